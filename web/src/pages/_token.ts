import { useState } from "react";

/**
 * The token of a mail link, read once and then taken out of the address bar, so it is
 * neither in the history nor on screen (and Referrer-Policy keeps it from other sites).
 */
export function useTokenFromUrl(params: URLSearchParams): string {
  const [token] = useState(() => {
    const value = params.get("token") ?? "";
    if (value) history.replaceState(null, "", location.pathname);
    return value;
  });
  return token;
}
