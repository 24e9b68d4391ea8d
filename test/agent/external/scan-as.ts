// Runs scanExternalManagers in a separate process and prints the result as JSON, so a test can
// run the scan as another user (setpriv) the way an agent not running as root would.
//   bun test/agent/external/scan-as.ts '<setting json>' '<scan environment json>'
import { scanExternalManagers } from "../../../src/agent/external";

const [setting, env] = process.argv.slice(2).map((a) => JSON.parse(a));
console.log(JSON.stringify(await scanExternalManagers(setting, env)));
