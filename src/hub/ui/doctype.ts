// Every full page starts with <!DOCTYPE html>: without it browsers render in quirks mode.
import { raw } from "hono/html";

export const DOCTYPE = raw("<!DOCTYPE html>");
