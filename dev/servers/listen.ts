import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on `host:port` (0 = any free port), rejecting on a listen error; resolves with the port. */
export function listenOn(server: Pick<Server, "once" | "off" | "listen" | "address">, port: number, host: string) {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
