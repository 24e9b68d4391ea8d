// A scriptable agent for hub-side protocol tests: signs requests like the real agent, but
// lets a test choose sequence numbers, boot ids, timestamps and raw bodies.
import { randomBytes } from "node:crypto";
import {
  AGENT_API_PREFIX,
  JOIN_INSTANCE_ID,
  generateInstanceKeyPair,
  loadPrivateKey,
  sha256HexOf,
  signRequest,
  type Facts,
  type KeyPair,
} from "../../src/protocol";

export const FACTS: Facts = { hostname: "test-host", os: "Debian GNU/Linux 12", arch: "x64", version: "0.1.0" };

export interface SendOptions {
  seq?: number;
  bootId?: string;
  time?: number;
  rawBody?: string;
  instanceId?: string;
  /** Sign with this key pair instead of the agent's own. */
  keyPair?: KeyPair;
  headers?: Record<string, string>;
}

export class FakeAgent {
  seq = 0;
  bootId = randomBytes(12).toString("base64url");
  instanceId = "";
  keyPair: KeyPair = generateInstanceKeyPair();

  constructor(readonly hubUrl: string) {}

  async send(endpoint: string, body: unknown, o: SendOptions = {}): Promise<Response> {
    const raw = o.rawBody ?? JSON.stringify(body);
    const kp = o.keyPair ?? this.keyPair;
    const seq = o.seq ?? (endpoint === "wait" ? this.seq : ++this.seq);
    const instanceId = o.instanceId ?? (endpoint === "join" ? JOIN_INSTANCE_ID : this.instanceId);
    const headers = signRequest(loadPrivateKey(kp.privateKeyPkcs8), {
      method: "POST",
      path: `${AGENT_API_PREFIX}/${endpoint}`,
      instanceId,
      time: o.time ?? Date.now(),
      seq,
      bootId: o.bootId ?? this.bootId,
      bodySha256: sha256HexOf(raw),
    });
    return fetch(`${this.hubUrl}${AGENT_API_PREFIX}/${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers, ...o.headers },
      body: raw,
    });
  }

  async join(clientId: string, secret: string, facts: Facts = FACTS): Promise<Response> {
    const res = await this.send("join", { clientId, secret, publicKey: this.keyPair.publicKey, facts }, { seq: 0 });
    if (res.status === 200) {
      const body = (await res.clone().json()) as { instanceId: string };
      this.instanceId = body.instanceId;
    }
    return res;
  }

  /** Joins or throws. */
  async joined(clientId: string, secret: string, facts: Facts = FACTS): Promise<this> {
    const res = await this.join(clientId, secret, facts);
    if (res.status !== 200) throw new Error(`join failed: ${res.status} ${await res.text()}`);
    return this;
  }

  sync(body: Record<string, unknown> = {}, o: SendOptions = {}) {
    return this.send("sync", { settingsVersion: 0, cursor: 0, ...body }, o);
  }

  /** A copy sharing this identity (a cloned data dir) but running as another process. */
  clone(): FakeAgent {
    const c = new FakeAgent(this.hubUrl);
    c.keyPair = this.keyPair;
    c.instanceId = this.instanceId;
    c.seq = this.seq;
    return c;
  }
}
