// Files imported `with { type: "text" }` so `bun build --compile` embeds them.
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "htmx.org/dist/htmx.min.js" {
  const text: string;
  export default text;
}
declare module "*/public/app.js" {
  const text: string;
  export default text;
}
