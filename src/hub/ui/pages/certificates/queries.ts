// Moved to src/db/certificate-list.ts (SQL lives in the database layer); this re-export keeps
// bench/certificates-page.ts working until it imports the new path.
export * from "../../../../db/certificate-list";
