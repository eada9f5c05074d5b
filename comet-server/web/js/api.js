// The server's public API, as any script would call it: form-encoded POSTs to
// /api/v1/admin/<method> or /api/v1/user/web/<method>, JSON answers, errors as
// {"Status", "Message"}. The session (kind, user name, session key) lives in sessionStorage:
// it ends with the tab, and nothing else about the account is kept in the browser.

const KEY = 'comet.session';

/** The server's answer to a key that is unknown or past its time. */
export const EXPIRED = 'Invalid or expired session key';
/** The server's answer to a password sign-in of an account with two-factor sign-in on. */
export const TOTP_REQUIRED = 'ERR_TOTP_REQUIRED';

/** An error answer of the API (or a network failure, with status 0). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }

  /** A user's session sent to an administrator's method. */
  get isDenied() {
    return this.status === 403 && /administrator/i.test(this.message) && /not allowed/i.test(this.message);
  }

  get isConflict() {
    return this.status === 409;
  }

  get isExpired() {
    return this.status === 403 && this.message === EXPIRED;
  }
}

/** The signed-in session, or null. */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && typeof s.sessionKey === 'string' && typeof s.username === 'string' ? s : null;
  } catch {
    return null;
  }
}

function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function forgetSession() {
  sessionStorage.removeItem(KEY);
}

export function isAdmin() {
  return session()?.kind === 'admin';
}

function base(kind) {
  return kind === 'admin' ? '/api/v1/admin/' : '/api/v1/user/web/';
}

async function post(kind, method, fields, { text = false } = {}) {
  let response;
  try {
    response = await fetch(base(kind) + method, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `The server cannot be reached (${e.message}).`);
  }
  const body = await response.text();
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const message = json && typeof json.Message === 'string' ? json.Message : body || response.statusText;
    const error = new ApiError(response.status, message);
    if (error.isExpired) window.dispatchEvent(new CustomEvent('comet:expired'));
    throw error;
  }
  if (text) return body;
  if (json === undefined) throw new ApiError(response.status, 'The server answered something that is not JSON.');
  // An answer {Status, Message} with an HTTP error status inside (jobs also have a Status,
  // with codes of 5000 and up).
  if (json && typeof json === 'object' && typeof json.Message === 'string' && json.Status >= 400 && json.Status < 600) {
    throw new ApiError(json.Status, json.Message);
  }
  return json;
}

function authFields() {
  const s = session();
  if (!s) {
    window.dispatchEvent(new CustomEvent('comet:expired'));
    throw new ApiError(403, EXPIRED);
  }
  return { Username: s.username, AuthType: 'SessionKey', SessionKey: s.sessionKey };
}

/** An administrator's method, with the session whatever its kind (the server says no to users). */
export function admin(method, fields = {}, options = {}) {
  return post('admin', method, { ...authFields(), ...fields }, options);
}

/** A user's method. */
export function user(method, fields = {}, options = {}) {
  return post('user', method, { ...authFields(), ...fields }, options);
}

/** The method for the session's kind: the same path exists for both. */
export function own(method, fields = {}, options = {}) {
  return isAdmin() ? admin(method, fields, options) : user(method, fields, options);
}

/**
 * Signs in and keeps the session. `secret` is the administrator's password or the user's login
 * secret (see crypto.js); `totp` a code when the server asked for one.
 */
export async function signIn(kind, username, secret, totp) {
  const fields = { Username: username, AuthType: totp ? 'PasswordTOTP' : 'Password', Password: secret };
  if (totp) fields.TOTP = totp;
  const answer = await post(kind, kind === 'admin' ? 'account/session-start' : 'session/start', fields);
  saveSession({ kind, username, sessionKey: answer.SessionKey });
}

/** Ends the session on the server (best effort) and in the browser. */
export async function signOut() {
  const s = session();
  forgetSession();
  if (!s) return;
  const fields = { Username: s.username, AuthType: 'SessionKey', SessionKey: s.sessionKey };
  try {
    await post(s.kind, s.kind === 'admin' ? 'account/session-revoke' : 'session/revoke', fields);
  } catch {
    // The key is forgotten here either way; it expires on the server by itself.
  }
}

/** The profile of `username` and its hash: the caller's own for users. */
export function profileAndHash(username) {
  return isAdmin() ? admin('get-user-profile-and-hash', { TargetUser: username }) : user('get-user-profile-and-hash');
}

/** Stores a profile if the stored one still has `hash` (409 otherwise). */
export function saveProfile(username, profile, hash) {
  const fields = { ProfileData: JSON.stringify(profile), RequireHash: hash };
  return isAdmin()
    ? admin('set-user-profile-hash', { TargetUser: username, ...fields })
    : user('set-user-profile-hash', fields);
}

/** Profiles the session can see: every user's for administrators, the own for users. */
export async function visibleProfiles() {
  if (isAdmin()) return admin('list-users-full');
  const { Profile } = await profileAndHash();
  return { [session().username]: Profile };
}

/** Live connections the session can see, by connection id. */
export function liveConnections() {
  return own('dispatcher/list-active');
}

/** A dispatcher command to a connected device. */
export function dispatch(command, targetId, fields = {}) {
  return own(`dispatcher/${command}`, { TargetID: targetId, ...fields });
}

/** Cancels a running job of `username`. */
export function cancelJob(username, jobId) {
  return isAdmin() ? admin('job/cancel', { TargetUser: username, JobID: jobId }) : user('job/cancel', { JobID: jobId });
}

/** Jobs the session can see, started in [start, end) (seconds), newest first. */
export async function jobsBetween(start, end) {
  const jobs = isAdmin()
    ? await admin('get-jobs-for-date-range', { Start: String(start), End: String(end) })
    : (await user('get-jobs')).filter((j) => j.StartTime >= start && j.StartTime < end);
  return jobs.sort((a, b) => b.StartTime - a.StartTime);
}
