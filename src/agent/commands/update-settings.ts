// update-settings: values set by a command (the hub's settings sync is the usual path).
import { z } from "zod";
import { payloadError, type Handler } from "./types";

const Payload = z.object({ values: z.record(z.string().min(1).max(128), z.unknown()) });

export const updateSettings: Handler = async (payload, { store }) => {
  const parsed = Payload.safeParse(payload);
  if (!parsed.success) return payloadError('{"values": {…}}');
  await store.setSettings(parsed.data.values, "command");
  const keys = Object.keys(parsed.data.values);
  return { status: "succeeded", message: `applied ${keys.length} setting(s)`, data: { keys } };
};
