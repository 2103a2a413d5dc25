// One Trino protocol test server per test, started before and closed after it.
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/index.ts";

export function useTrinoTestServer(): () => TrinoTestServer {
  let server: TrinoTestServer | undefined;
  beforeEach(async () => {
    server = await startTrinoTestServer({ rowsPerPage: 10 });
  });
  afterEach(async () => {
    await server?.close();
  });
  return () => server!;
}
