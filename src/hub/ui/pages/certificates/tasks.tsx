// The deployment task editor inside the certificate form: an ordered list of tasks (PEM
// files, PFX / PKCS#12, script, service reload, webhook, wait), each with its name, trigger,
// error handling and type-specific fields. Add, move up/down and delete are submit buttons
// (name="op"): the server re-renders the form with the changed list, so the editor works
// without JavaScript and keeps whatever was typed. Field names are the rule paths
// ("deployments.2.path"), so rule errors land next to their field.
import { TASK_TRIGGERS } from "../../../../protocol/certificates";
import { FieldError, type FieldErrors, type FormValues } from "../../components";
import { directProblem, managerHint, managerLabel, SERVICE_ACTIONS, SERVICE_MANAGERS, servicePreset } from "./service-task";

export const TASK_TYPES = ["pem", "pfx", "script", "service", "webhook", "wait"] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export const TASK_LABEL: Record<TaskType, string> = {
  pem: "PEM files",
  pfx: "PFX / PKCS#12 file",
  script: "Run a script",
  service: "Reload or restart a service",
  webhook: "Webhook",
  wait: "Wait",
};

export const TRIGGER_LABEL: Record<(typeof TASK_TRIGGERS)[number], string> = {
  success: "after a successful renewal (default)",
  failure: "after a failed renewal",
  always: "after every renewal attempt",
  manual: "only with Deploy now",
};

/** One task as typed: its own field names without the "deployments.N." prefix. */
export type RawTask = Record<string, string>;

/** The tasks held in flat form values, in order. */
export function tasksFromValues(values: FormValues): RawTask[] {
  const byIndex = new Map<number, RawTask>();
  for (const [key, v] of Object.entries(values)) {
    const m = /^deployments\.(\d{1,2})\.([A-Za-z]+)$/.exec(key);
    if (!m) continue;
    const i = Number(m[1]);
    const t = byIndex.get(i) ?? {};
    t[m[2]] = Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
    byIndex.set(i, t);
  }
  return [...byIndex.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, t]) => t)
    .filter((t) => (TASK_TYPES as readonly string[]).includes(t.type ?? ""));
}

/** Writes tasks back into flat form values (replacing the old ones), re-numbered 0…n-1. */
export function valuesWithTasks(values: FormValues, tasks: RawTask[]): FormValues {
  const out: FormValues = {};
  for (const [k, v] of Object.entries(values)) if (!k.startsWith("deployments.")) out[k] = v;
  tasks.forEach((t, i) => {
    for (const [k, v] of Object.entries(t)) out[`deployments.${i}.${k}`] = v;
  });
  return out;
}

/** Applies an editor button ("add", "up:2", "down:0", "del:1"); undefined when op is not one. */
export function applyTaskOp(op: string, values: FormValues, newType: string): FormValues | undefined {
  const tasks = tasksFromValues(values);
  if (op === "add") {
    if (!(TASK_TYPES as readonly string[]).includes(newType) || tasks.length >= 32) return values;
    const fresh: RawTask = { type: newType, trigger: "success" };
    if (newType === "pfx") fresh.encoding = "modern";
    if (newType === "service") {
      fresh.manager = SERVICE_MANAGERS[0];
      fresh.action = SERVICE_ACTIONS[0];
    }
    if (newType === "wait") fresh.seconds = "10";
    return valuesWithTasks(values, [...tasks, fresh]);
  }
  const m = /^(up|down|del):(\d{1,2})$/.exec(op);
  if (!m) return undefined;
  const i = Number(m[2]);
  if (i >= tasks.length) return values;
  if (m[1] === "del") tasks.splice(i, 1);
  else {
    const j = m[1] === "up" ? i - 1 : i + 1;
    if (j < 0 || j >= tasks.length) return values;
    [tasks[i], tasks[j]] = [tasks[j], tasks[i]];
  }
  return valuesWithTasks(values, tasks);
}

export interface CredentialChoice {
  id: string;
  title: string;
  type: string;
}

function Field(props: { i: number; name: string; label: string; t: RawTask; errors: FieldErrors; hint?: string; placeholder?: string; type?: string; optional?: boolean }) {
  const full = `deployments.${props.i}.${props.name}`;
  return (
    <label>
      {props.label} {props.optional ? <span class="muted">(optional)</span> : null}
      <input name={full} type={props.type ?? "text"} value={props.t[props.name] ?? ""} placeholder={props.placeholder} aria-invalid={props.errors[full] ? "true" : undefined} />
      {props.hint ? <span class="hint">{props.hint}</span> : null}
      <FieldError errors={props.errors} name={full} />
    </label>
  );
}

function Select(props: { i: number; name: string; label: string; t: RawTask; errors: FieldErrors; options: [string, string][]; hint?: string }) {
  const full = `deployments.${props.i}.${props.name}`;
  return (
    <label>
      {props.label}
      <select name={full} aria-invalid={props.errors[full] ? "true" : undefined}>
        {props.options.map(([v, l]) => (
          <option value={v} selected={(props.t[props.name] ?? "") === v}>
            {l}
          </option>
        ))}
      </select>
      {props.hint ? <span class="hint">{props.hint}</span> : null}
      <FieldError errors={props.errors} name={full} />
    </label>
  );
}

function FileOwnership(props: { i: number; t: RawTask; errors: FieldErrors }) {
  return (
    <div class="form-row">
      <Field {...props} name="mode" label="Mode" placeholder="0640" optional />
      <Field {...props} name="owner" label="Owner" placeholder="root" optional />
      <Field {...props} name="group" label="Group" placeholder="ssl-cert" optional />
    </div>
  );
}

function credentialOptions(list: CredentialChoice[], types: string[], none?: string): [string, string][] {
  const out: [string, string][] = none !== undefined ? [["", none]] : [["", "— pick a stored credential —"]];
  for (const c of list) if (types.includes(c.type)) out.push([c.id, `${c.title} (${c.type})`]);
  return out;
}

/** A config file path of the preset's kind, as the placeholder (postfix takes a directory). */
const CONFIG_EXAMPLE: Record<string, string> = {
  nginx: "/etc/nginx/nginx.conf",
  apache: "/etc/apache2/apache2.conf",
  haproxy: "/etc/haproxy/haproxy.cfg",
  postfix: "/etc/postfix-out (a config directory)",
};

function TypeFields(props: { i: number; t: RawTask; errors: FieldErrors; credentials: CredentialChoice[] }) {
  const { i, t, errors } = props;
  const p = { i, t, errors };
  switch (t.type as TaskType) {
    case "pem":
      return (
        <>
          <Field {...p} name="directory" label="Directory" placeholder="/etc/ssl/example" hint="cert.pem, chain.pem, fullchain.pem and privkey.pem are written there atomically (the names certbot users know)." />
          <label class="check">
            <input type="checkbox" name={`deployments.${i}.combined`} value="on" checked={t.combined === "on"} /> Also write combined.pem: the full chain followed by the private key in one file
            <span class="hint">For servers that read one file: haproxy (crt), lighttpd (ssl.pemfile), Webmin, pound. It holds the key: mode 0600 unless a mode is given.</span>
          </label>
          <FileOwnership {...p} />
        </>
      );
    case "pfx":
      return (
        <>
          <Field {...p} name="path" label="PFX file" placeholder="/etc/ssl/example.pfx" />
          <div class="form-row">
            <Select {...p} name="passwordCredentialId" label="Password (stored credential of type password)" options={credentialOptions(props.credentials, ["password"])} />
            <Select
              {...p}
              name="encoding"
              label="Encoding"
              options={[
                ["modern", "modern — AES-256 (default)"],
                ["legacy", "legacy — 3DES + SHA-1 MAC"],
              ]}
              hint="Windows Server 2016 and older and the macOS keychain need legacy: they refuse modern files with a misleading “wrong password”."
            />
          </div>
          <Field {...p} name="friendlyName" label="Friendly name" optional />
          <FileOwnership {...p} />
        </>
      );
    case "script":
      return (
        <>
          <Field {...p} name="command" label="Command (absolute path)" placeholder="/usr/local/bin/after-renewal" hint="Runs without a shell; the certificate's paths, domains, serial and expiry are in its environment. Refused unless the host's agent allows scripts (--allow-scripts)." />
          <label>
            Arguments <span class="muted">(optional, one per line)</span>
            <textarea name={`deployments.${i}.args`} rows={2}>
              {t.args ?? ""}
            </textarea>
            <FieldError errors={errors} name={`deployments.${i}.args`} />
          </label>
          <Field {...p} name="timeoutSeconds" label="Timeout (seconds)" type="number" optional />
        </>
      );
    case "service": {
      const name = (t.name ?? "").trim();
      const preset = servicePreset(name);
      const problem = directProblem(t.manager ?? "", name);
      // The config file only means something to a preset (its config test and direct reload):
      // shown for a preset, a task not named yet, or one that already has a config.
      const showConfig = !!preset || !name || !!(t.config ?? "").trim();
      return (
        <>
          <div class="form-row">
            <Select {...p} name="manager" label="Service manager" options={SERVICE_MANAGERS.map((m) => [m, managerLabel(m)])} hint={managerHint()} />
            <Field
              {...p}
              name="name"
              label="Service (unit or label)"
              placeholder="nginx.service"
              hint="This is also the task's name. nginx, apache2/httpd, haproxy and postfix are presets: their config test runs first, and a failing test stops the reload."
            />
            <Select {...p} name="action" label="Action" options={SERVICE_ACTIONS.map((a) => [a, a])} />
          </div>
          {problem ? <p class="alert warning task-warning">{problem}</p> : null}
          {showConfig ? (
            <Field
              {...p}
              name="config"
              label={preset ? `${preset} config file` : "Server config file"}
              placeholder={CONFIG_EXAMPLE[preset ?? ""] ?? CONFIG_EXAMPLE.nginx}
              optional
              hint={
                preset || !name
                  ? "Only when the server does not use its default one (postfix: its config directory). The config test uses it, and so does the direct reload."
                  : `Not used: "${name}" is none of the presets (nginx, apache2/httpd, haproxy, postfix), so no config test runs. Leave it empty.`
              }
            />
          ) : null}
        </>
      );
    }
    case "webhook":
      return (
        <>
          <Field {...p} name="url" label="URL" placeholder="https://hooks.example.com/certificates" hint="Receives a JSON POST: certificate, instance, serial, notAfter, outcome." />
          <div class="form-row">
            <Select {...p} name="secretCredentialId" label="HMAC-SHA256 signing secret" options={credentialOptions(props.credentials, ["api-token", "password"], "none (unsigned)")} />
            <Field {...p} name="timeoutSeconds" label="Timeout (seconds)" type="number" optional />
          </div>
        </>
      );
    case "wait":
      return <Field {...p} name="seconds" label="Seconds" type="number" hint="Pause before the next task (1–600)." />;
  }
}

export function TaskEditor(props: { values: FormValues; errors: FieldErrors; credentials: CredentialChoice[] }) {
  const tasks = tasksFromValues(props.values);
  const { errors } = props;
  return (
    <fieldset class="tasks" id="deployment-tasks">
      <legend>Deployment tasks</legend>
      <p class="muted small-print">Run in this order after each issuance or renewal. A failing task does not undo the certificate; it shows as a deployment warning.</p>
      {tasks.length === 0 ? <p class="muted">No tasks: the certificate stays in the agent's data directory only.</p> : null}
      <ol class="task-list">
        {tasks.map((t, i) => (
          <li class="task card" data-task-index={i} data-task-type={t.type}>
            <input type="hidden" name={`deployments.${i}.type`} value={t.type} />
            <div class="task-head">
              <strong>
                {i + 1}. {TASK_LABEL[t.type as TaskType]}
              </strong>
              <span class="spacer"></span>
              <button type="submit" class="small" name="op" value={`up:${i}`} disabled={i === 0} aria-label={`Move task ${i + 1} up`}>
                ↑ Up
              </button>
              <button type="submit" class="small" name="op" value={`down:${i}`} disabled={i === tasks.length - 1} aria-label={`Move task ${i + 1} down`}>
                ↓ Down
              </button>
              <button type="submit" class="small danger" name="op" value={`del:${i}`} aria-label={`Delete task ${i + 1}`}>
                Delete
              </button>
            </div>
            <FieldError errors={errors} name={`deployments.${i}`} />
            <div class="form-row">
              {t.type !== "service" ? <Field i={i} t={t} errors={errors} name="name" label="Name" optional placeholder={TASK_LABEL[t.type as TaskType]} /> : null}
              <Select i={i} t={t} errors={errors} name="trigger" label="Runs" options={TASK_TRIGGERS.map((x) => [x, TRIGGER_LABEL[x]])} />
            </div>
            <TypeFields i={i} t={t} errors={errors} credentials={props.credentials} />
            <div class="form-row">
              <label class="check">
                <input type="checkbox" name={`deployments.${i}.continueOnError`} value="on" checked={t.continueOnError === "on"} /> Continue with the next task if this one fails
              </label>
              <Field i={i} t={t} errors={errors} name="retries" label="Retries" type="number" optional />
              <Field i={i} t={t} errors={errors} name="retryDelaySeconds" label="Delay between retries (s)" type="number" optional />
            </div>
          </li>
        ))}
      </ol>
      <div class="task-add">
        <label class="inline">
          Add a task{" "}
          <select name="newTaskType" aria-label="Type of the new task">
            {TASK_TYPES.map((t) => (
              <option value={t}>{TASK_LABEL[t]}</option>
            ))}
          </select>
        </label>
        <button type="submit" class="small" name="op" value="add">
          Add task
        </button>
      </div>
    </fieldset>
  );
}
