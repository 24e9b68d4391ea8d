// A reader for the ConfigObj INI dialect certbot writes its renewal confs in: `key = value`,
// `[section]` and nested `[[subsection]]`, `#` comments, values quoted or bare, lists with a
// trailing comma. Python's configparser (and most INI parsers) reject `[[webroot_map]]`.

export interface ConfigObjSection {
  values: Record<string, string>;
  sections: Record<string, ConfigObjSection>;
}

export class ConfigObjError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export function parseConfigObj(text: string): ConfigObjSection {
  const root: ConfigObjSection = { values: {}, sections: {} };
  // stack[d] is the open section at depth d (0 = top level)
  const stack: ConfigObjSection[] = [root];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^(\[+)\s*([^\]]*?)\s*(\]+)\s*(#.*)?$/.exec(line);
    if (header) {
      const depth = header[1]!.length;
      if (depth !== header[3]!.length) throw new ConfigObjError("unbalanced section brackets", i + 1);
      if (depth > stack.length) throw new ConfigObjError("section nested too deeply", i + 1);
      const parent = stack[depth - 1]!;
      const section: ConfigObjSection = { values: {}, sections: {} };
      parent.sections[unquote(header[2]!)] = section;
      stack.length = depth;
      stack.push(section);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) throw new ConfigObjError("expected key = value", i + 1);
    const key = unquote(line.slice(0, eq).trim());
    stack[stack.length - 1]!.values[key] = parseValue(line.slice(eq + 1).trim());
  }
  return root;
}

function unquote(s: string): string {
  const m = /^(["'])(.*)\1$/.exec(s);
  return m ? m[2]! : s;
}

/** A quoted value is taken literally; a bare one ends at an inline `#` comment. */
function parseValue(raw: string): string {
  const q = /^(["'])(.*?)\1\s*(,.*)?(#.*)?$/.exec(raw);
  if (q && !q[3]) return q[2]!;
  const hash = raw.indexOf("#");
  return (hash >= 0 ? raw.slice(0, hash) : raw).trim();
}

/** A ConfigObj list value ("a, b," or "a,") as items. */
export function configObjList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((s) => unquote(s.trim()))
    .filter(Boolean);
}
