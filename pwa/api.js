// The JSON API client: one fetch wrapper, so every call sends the same headers and every
// failure becomes an ApiError with a Dutch message that can be shown as is.

import { keepAnswer, keptAnswer } from "./keystore.js";

const OFFLINE_MESSAGE = "Geen verbinding. Controleer uw internet en probeer het opnieuw.";
const FALLBACK_MESSAGE = "Er ging iets mis. Probeer het opnieuw.";

export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when there was no connection
    this.code = code;
    this.body = body;
  }
}

export const isOffline = (error) => error instanceof ApiError && error.status === 0;
export const offlineError = () => new ApiError(0, "offline", OFFLINE_MESSAGE);

/** Call the API. A state change (POST/PUT) carries X-HWC and a JSON body, as the server asks. */
export async function api(path, { method = "GET", body } = {}) {
  const init = { method, credentials: "same-origin", cache: "no-store",
    headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["X-HWC"] = "1";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw offlineError();
  }
  const data = await readJson(response);
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? "error", data?.message ?? FALLBACK_MESSAGE,
      data ?? {});
  }
  return data;
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null; // e.g. a proxy's HTML error page
  }
}

/** GET /api/me or /api/signals: {value, at: null}; offline, the kept {value, at}. */
export async function apiOrKept(path) {
  try {
    const value = await api(path);
    await keepAnswer(path, value);
    return { value, at: null };
  } catch (error) {
    const kept = isOffline(error) && await keptAnswer(path);
    if (!kept) throw error;
    return kept;
  }
}

/** A path segment for an id that came from a URL or the server. */
export const segment = (id) => encodeURIComponent(id);
