// Shared by the page tests: form posts as a browser or htmx sends them, a read-only viewer,
// row counts, and the checks every page must pass (no inline script or style).
import { expect } from "bun:test";
import { sql } from "drizzle-orm";
import { signIn, type Session, type TestHub } from "../../../helpers/session";

export type Fields = Record<string, string | string[]>;

export function formBody(fields: Fields) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of ([] as string[]).concat(v)) p.append(k, x);
  return p;
}

/** A form post as htmx sends it (CSRF header, HX-Request, HX-Target) or as a plain browser form (CSRF field). */
export function post(s: Session, path: string, fields: Fields, opts: { htmx?: string } = {}) {
  if (opts.htmx !== undefined) {
    return s.fetch(path, { method: "POST", body: formBody(fields), headers: { "hx-request": "true", ...(opts.htmx ? { "hx-target": opts.htmx } : {}) } });
  }
  return s.fetch(path, { method: "POST", body: formBody({ ...fields, _csrf: s.csrf }), csrf: false });
}

export async function page(s: Session, path: string): Promise<string> {
  const res = await s.fetch(path);
  expect(res.status, path).toBe(200);
  const html = await res.text();
  expect(html, path).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline scripts (CSP)
  expect(html, path).not.toMatch(/\sstyle=/); // no inline styles (CSP)
  return html;
}

export async function count(hub: TestHub, table: string, where = "1=1") {
  const [row] = await hub.deps.db.all<{ n: number }>(sql.raw(`select count(*) as n from ${table} where ${where}`));
  return Number(row.n);
}

/** A Read-only Viewer, created through the Users page. */
export async function readOnlyViewer(hub: TestHub, admin: Session, username = "viewer"): Promise<Session> {
  const password = "viewer-password-123";
  const res = await post(admin, "/settings/users", { type: "user", username, password, role: "readonly", title: "", email: "" });
  expect(res.status).toBe(303);
  return signIn(hub.url, username, password);
}

/** Text content without tags, for readable assertions. */
export const text = (html: string) => html.replace(/<[^>]+>/g, " ").replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, "&").replace(/\s+/g, " ");

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/**
 * The fields a browser submits for the certificate form as rendered: text/hidden/number inputs,
 * checked boxes and radios, each select's selected option (else its first), textareas.
 */
export async function browserFields(html: string): Promise<Fields> {
  const start = html.indexOf('class="cert-form');
  const form = html.slice(html.lastIndexOf("<form", start), html.indexOf("</form>", start) + 7);
  const out: [string, string][] = [];
  let select: { name: string; first?: string; chosen?: string } | null = null;
  let area: { name: string; text: string } | null = null;
  const flushSelect = () => {
    if (select && (select.chosen ?? select.first) !== undefined) out.push([select.name, select.chosen ?? select.first!]);
    select = null;
  };
  const rewriter = new HTMLRewriter()
    .on("input", {
      element(el) {
        const name = el.getAttribute("name");
        if (!name || el.hasAttribute("disabled")) return;
        const type = (el.getAttribute("type") ?? "text").toLowerCase();
        if ((type === "checkbox" || type === "radio") && !el.hasAttribute("checked")) return;
        if (type === "submit" || type === "button") return;
        out.push([name, decode(el.getAttribute("value") ?? (type === "checkbox" || type === "radio" ? "on" : ""))]);
      },
    })
    .on("select", {
      element(el) {
        flushSelect();
        const name = el.getAttribute("name");
        if (name) select = { name };
        el.onEndTag(flushSelect);
      },
    })
    .on("option", {
      element(el) {
        if (!select) return;
        const v = decode(el.getAttribute("value") ?? "");
        select.first ??= v;
        if (el.hasAttribute("selected")) select.chosen ??= v;
      },
    })
    .on("textarea", {
      element(el) {
        const name = el.getAttribute("name");
        if (!name) return;
        area = { name, text: "" };
        el.onEndTag(() => {
          out.push([area!.name, decode(area!.text).replace(/^\n/, "")]);
          area = null;
        });
      },
      text(chunk) {
        if (area) area.text += chunk.text;
      },
    });
  await rewriter.transform(new Response(form)).text();
  const fields: Fields = {};
  for (const [k, v] of out) fields[k] = k in fields ? ([] as string[]).concat(fields[k], v) : v;
  return fields;
}
