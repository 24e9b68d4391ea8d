// The ready-to-paste join commands shown with a new joining key: in the first-start banner,
// on the dashboard and on the API Access page.

/** Default agent data dir as root; its local-api.token gates the agent's local API. */
export const AGENT_TOKEN_FILE = "/var/lib/certhub-agent/local-api.token";

export function joinCommands(p: { hubUrl: string; clientId: string; secret: string; fingerprint?: string }) {
  const fp = p.fingerprint ? ` --fingerprint ${p.fingerprint}` : "";
  // The seed's body: {"clientId","secret","url"}, plus the fingerprint pin for self-signed hubs.
  const body = JSON.stringify({ clientId: p.clientId, secret: p.secret, url: p.hubUrl, ...(p.fingerprint ? { fingerprint: p.fingerprint } : {}) });
  return {
    cli: `certhub hub join ${p.hubUrl} ${p.clientId} ${p.secret}${fp}`,
    curl:
      `curl -X POST http://127.0.0.2:9696/api/system/hub/join -H "Authorization: Bearer $(cat ${AGENT_TOKEN_FILE})" ` +
      `-H 'Content-Type: application/json' -d '${body}'`,
  };
}
