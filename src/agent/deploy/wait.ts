// Wait task: pause N seconds between tasks (e.g. let a cluster pick up new files before the
// next reload). Cancellable through the run's AbortSignal.
import type { WaitTaskSchema } from "../../protocol/certificates";
import type { z } from "zod";
import { TaskError, type TaskOutput, type TaskRun } from "./types";

type WaitTask = z.infer<typeof WaitTaskSchema>;

export async function runWaitTask(task: WaitTask, run: TaskRun): Promise<TaskOutput> {
  if (!(await abortableSleep(task.seconds * 1000, run.signal))) throw new TaskError("cancelled while waiting");
  return { message: `waited ${task.seconds}s` };
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((ok) => {
    const done = (v: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      ok(v);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
