/**
 * What server reflection can answer from: the files that define the reflected services and every file they
 * import, with each fully qualified name mapped to the file that declares it. Built once at registration so
 * a request is a map lookup, never a walk over descriptors.
 */
import {
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

export interface DescriptorIndex {
  /** Fully qualified names of the reflected services, sorted. */
  readonly serviceNames: readonly string[];
  /** Files by their proto path (`taskmesh/tags/v1/tags.proto`). */
  readonly files: ReadonlyMap<string, DescFile>;
  /** The file declaring each symbol: services, methods, messages, enums, values, fields, oneofs. */
  readonly symbols: ReadonlyMap<string, DescFile>;
  /** Message types by fully qualified name, for the extension questions. */
  readonly messages: ReadonlyMap<string, DescMessage>;
  /** Extensions declared in the indexed files, by the fully qualified name of the message they extend. */
  readonly extensionsByExtendee: ReadonlyMap<string, readonly DescExtension[]>;
  /** Each file as a serialized FileDescriptorProto, what the protocol sends. */
  readonly encoded: ReadonlyMap<string, Uint8Array>;
}

/** Index the given services' files and, transitively, everything they import. */
export function createDescriptorIndex(services: readonly DescService[]): DescriptorIndex {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Map<string, DescMessage>();
  const extensionsByExtendee = new Map<string, DescExtension[]>();
  const encoded = new Map<string, Uint8Array>();

  // First writer wins: a valid descriptor set never declares a name twice, and two copies of one file (a
  // library loaded twice) describe the same thing.
  const addSymbol = (name: string, file: DescFile) => {
    if (!symbols.has(name)) symbols.set(name, file);
  };
  const addExtension = (ext: DescExtension) => {
    addSymbol(ext.typeName, ext.file);
    const list = extensionsByExtendee.get(ext.extendee.typeName) ?? [];
    list.push(ext);
    extensionsByExtendee.set(ext.extendee.typeName, list);
  };
  const addEnum = (desc: DescEnum, file: DescFile) => {
    addSymbol(desc.typeName, file);
    // Protobuf scopes enum values beside their enum, not inside it; `pkg.Enum.VALUE` is accepted too because
    // that is what people type, and no other declaration can own that name.
    const scope = desc.typeName.slice(0, desc.typeName.length - desc.name.length);
    for (const value of desc.values) {
      addSymbol(scope + value.name, file);
      addSymbol(`${desc.typeName}.${value.name}`, file);
    }
  };
  const addMessage = (desc: DescMessage, file: DescFile) => {
    addSymbol(desc.typeName, file);
    if (!messages.has(desc.typeName)) messages.set(desc.typeName, desc);
    for (const field of desc.fields) addSymbol(`${desc.typeName}.${field.name}`, file);
    // From the proto rather than `desc.oneofs`, which leaves out the synthetic oneofs of proto3 `optional`.
    for (const oneof of desc.proto.oneofDecl) addSymbol(`${desc.typeName}.${oneof.name}`, file);
    for (const nested of desc.nestedMessages) addMessage(nested, file);
    for (const nested of desc.nestedEnums) addEnum(nested, file);
    for (const ext of desc.nestedExtensions) addExtension(ext);
  };
  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    encoded.set(file.proto.name, toBinary(FileDescriptorProtoSchema, file.proto));
    for (const service of file.services) {
      addSymbol(service.typeName, file);
      for (const method of service.methods) addSymbol(`${service.typeName}.${method.name}`, file);
    }
    for (const message of file.messages) addMessage(message, file);
    for (const desc of file.enums) addEnum(desc, file);
    for (const ext of file.extensions) addExtension(ext);
    for (const dependency of file.dependencies) addFile(dependency);
  };

  const serviceNames = new Set<string>();
  for (const service of services) {
    serviceNames.add(service.typeName);
    addFile(service.file);
  }
  return {
    serviceNames: [...serviceNames].sort(),
    files,
    symbols,
    messages,
    extensionsByExtendee,
    encoded,
  };
}

/**
 * The named file and then its transitive imports, breadth first, as serialized FileDescriptorProtos. Like
 * grpc-go, the named file is always sent (the client asked for it) while an import already in `sent` is
 * skipped; `sent` is the stream's memory and is updated here.
 */
export function encodeFileWithImports(
  index: DescriptorIndex,
  file: DescFile,
  sent: Set<string>,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>([file.proto.name]);
  const queue: DescFile[] = [file];
  for (let i = 0; i < queue.length; i++) {
    const current = queue[i];
    const name = current.proto.name;
    if (i === 0 || !sent.has(name)) {
      sent.add(name);
      // The index holds every file reachable from a reflected one, so the encoding is always there.
      out.push(index.encoded.get(name) ?? toBinary(FileDescriptorProtoSchema, current.proto));
    }
    for (const dependency of current.dependencies) {
      if (seen.has(dependency.proto.name)) continue;
      seen.add(dependency.proto.name);
      queue.push(dependency);
    }
  }
  return out;
}
