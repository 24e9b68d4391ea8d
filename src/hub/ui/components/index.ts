// Shared building blocks of the admin pages, one file per kind. Pages stay server-rendered;
// htmx only swaps these fragments. Dialogs: ../dialogs.tsx.
export * from "./badges";
export * from "./feedback";
export * from "./forms";
export * from "./htmx";
export * from "./tables";
export * from "./secrets";
