/**
 * Which gRPC services each taskmesh service name brings, and what implements them.
 * A service without an implementation yet answers Unimplemented, naming what brings it.
 */
import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { CampaignService } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { AlertService } from "../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { registerAlertService } from "./alerts/service.ts";
import type { ServiceName } from "./config.ts";
import type { RouteFn } from "./deps.ts";
import { registerAuthService } from "./auth/service.ts";
import { registerTagService } from "./tags/service.ts";
import { registerTaskServices } from "./tasks/service.ts";
import { scheduleServiceImpl } from "./schedules/schedule_service.ts";
import { createCampaignServiceImpl } from "./campaigns/mod.ts";
import { alertsOf, type Runtimes, tasksOf } from "./runtimes.ts";

export interface ServiceModule {
  descs: DescService[];
  /** Registers the implementation; absent while the service is still to be built. */
  register?: RouteFn;
  /** False when this process cannot serve it (a runtime it needs is elsewhere): Unimplemented, NOT_SERVING. */
  available?: (runtimes: Runtimes) => boolean;
  /** Shown in Unimplemented errors while `register` is absent. */
  arrivesWith: string;
  /** Starts background work (loops) before the server listens. */
  start?: (runtimes: Runtimes) => Promise<void>;
  /** Stops it after the last call has ended. */
  stop?: (runtimes: Runtimes) => Promise<void>;
}

export const SERVICE_MODULES: Record<ServiceName, ServiceModule> = {
  auth: { descs: [AuthService], register: registerAuthService, arrivesWith: "the auth service" },
  tags: { descs: [TagService], register: registerTagService, arrivesWith: "the tags service" },
  campaigns: {
    descs: [CampaignService],
    register: (router, _deps, runtimes) =>
      router.service(CampaignService, createCampaignServiceImpl(runtimes.campaigns!.handlerDeps)),
    // Its mails are the engine's tasks: it is served, started and stopped with the task engine (below).
    available: (runtimes) => runtimes.campaigns !== undefined,
    arrivesWith:
      "the campaigns service and the tasks service in one process (add tasks to TASKMESH_SERVICES)",
  },
  // Alerts come with the task engine: their figures are the engine's, their notifications its tasks.
  tasks: {
    descs: [TaskService, WorkerService, AlertService],
    register: (router, deps, runtimes) => {
      registerTaskServices(
        router,
        tasksOf(runtimes),
        runtimes.schedules && scheduleServiceImpl(runtimes.schedules),
      );
      registerAlertService(router, deps);
    },
    arrivesWith: "the task runtime",
    // The scheduler, the campaigns and the alert evaluator work through the engine: they start
    // after it, in that order, and stop before it, in the reverse order.
    start: async (runtimes) => {
      await tasksOf(runtimes).start();
      runtimes.schedules?.start();
      runtimes.campaigns?.start();
      await alertsOf(runtimes).start();
    },
    stop: async (runtimes) => {
      await alertsOf(runtimes).stop();
      await runtimes.campaigns?.stop();
      await runtimes.schedules?.stop();
      await tasksOf(runtimes).stop();
    },
  },
};

/** Every gRPC service a taskmesh process can serve, health and reflection aside. */
export const ALL_DESCS: DescService[] = Object.values(SERVICE_MODULES).flatMap((m) => m.descs);

export function registerUnimplemented(router: ConnectRouter, desc: DescService, arrivesWith: string): void {
  // Built by name from the descriptor, so the generic ServiceImpl type cannot follow it.
  const impl: Record<string, () => never> = {};
  for (const method of desc.methods) {
    impl[method.localName] = () => {
      throw new ConnectError(
        `${desc.typeName}/${method.name} is not implemented yet: it arrives with ${arrivesWith}`,
        Code.Unimplemented,
      );
    };
  }
  router.service(desc, impl as unknown as Partial<ServiceImpl<DescService>>);
}
