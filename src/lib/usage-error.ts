// A mistake in what the operator typed (flags, environment): the CLI prints its message and
// exits 2 instead of a stack trace. Thrown by the config modules as well as by src/cli/.
export class UsageError extends Error {}
