// Sign-in against the user pool with the Cognito Identity Provider JSON protocol: the same code talks
// to the local `identity` and to Amazon Cognito (the gateway's /storefront/config.json says where).
// Tokens live in sessionStorage (this tab only, gone when it closes) and are refreshed with
// REFRESH_TOKEN_AUTH shortly before the ID token expires; signing out forgets them and revokes the refresh token.

const STORAGE_KEY = 'swn.session';
const listeners = new Set();
let config = null;
let session = null; // {idToken, accessToken, refreshToken, claims}
let refreshTimer = null;
let refreshing = null;

/** An error answered by the user pool: `type` is the exception name (NotAuthorizedException, ...). */
export class AuthError extends Error {
  constructor(type, message, field) {
    super(message || type);
    this.type = type;
    this.field = field;
  }
}

export async function loadConfig() {
  if (config) return config;
  const response = await fetch('/storefront/config.json', { cache: 'no-cache' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  config = await response.json();
  return config;
}

export const getConfig = () => config;

/** True when the pool is the local `identity` (not Amazon Cognito): the demo users exist there. */
export const isLocalPool = () => Boolean(config && !/amazonaws\.com/.test(config.identityEndpoint));

function decode(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const json = decodeURIComponent([...atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='))]
    .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
  return JSON.parse(json);
}

async function cognito(action, body) {
  await loadConfig();
  let response;
  try {
    response = await fetch(config.identityEndpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new AuthError('NetworkError', 'The sign-in service could not be reached. Is identity running (and allowed for this origin)?');
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const raw = data.__type || response.headers.get('x-amzn-ErrorType') || `HTTP${response.status}`;
    const type = raw.split('#').pop().split(':')[0];
    throw new AuthError(type, data.message || data.Message || type);
  }
  return data;
}

function store(result, previousRefreshToken) {
  const claims = decode(result.IdToken);
  session = {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken: result.RefreshToken || previousRefreshToken,
    claims,
  };
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ idToken: session.idToken, accessToken: session.accessToken, refreshToken: session.refreshToken }));
  } catch { /* storage disabled: keep the session in memory only */ }
  schedule();
  notify();
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const remaining = session.claims.exp * 1000 - Date.now();
  // Refresh a minute before expiry (or at 80 % of a short lifetime), never sooner than in 5 s.
  const wait = Math.max(5000, remaining - Math.min(60000, remaining * 0.2));
  refreshTimer = setTimeout(() => refresh().catch(() => {}), wait);
}

function notify() {
  for (const listener of listeners) listener(user());
}

/** Calls `listener(user or null)` whenever the signed-in user changes. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Restores the tab's session (after a reload), refreshing it when the ID token has expired. */
export async function restore() {
  await loadConfig();
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null'); } catch { saved = null; }
  if (!saved?.idToken) return null;
  try {
    session = { ...saved, claims: decode(saved.idToken) };
  } catch {
    forget();
    return null;
  }
  if (session.claims.exp * 1000 - Date.now() < 30000) {
    try { await refresh(); } catch { return null; }
  } else {
    schedule();
  }
  return user();
}

/** The signed-in user: {name, email, groups, isAdmin}, or null. */
export function user() {
  if (!session) return null;
  const c = session.claims;
  const groups = Array.isArray(c['cognito:groups']) ? c['cognito:groups'] : (c['cognito:groups'] ? [c['cognito:groups']] : []);
  return { name: c['cognito:username'], email: c.email || '', groups, isAdmin: groups.includes('admin') };
}

/** The ID token for `Authorization: Bearer`, refreshed first when it is about to expire. */
export async function idToken() {
  if (!session) return null;
  if (session.claims.exp * 1000 - Date.now() < 15000) await refresh();
  return session?.idToken ?? null;
}

export async function signIn(username, password) {
  if (!username) throw new AuthError('InvalidParameterException', 'Enter your user name.', 'username');
  if (!password) throw new AuthError('InvalidParameterException', 'Enter your password.', 'password');
  const answer = await cognito('InitiateAuth', {
    AuthFlow: 'USER_PASSWORD_AUTH',
    ClientId: config?.clientId ?? (await loadConfig()).clientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  }).catch((error) => { throw withField(error); });
  if (!answer.AuthenticationResult) {
    throw new AuthError(answer.ChallengeName || 'Challenge', `This account needs a step the shop does not support (${answer.ChallengeName}). Ask an administrator to set a permanent password.`);
  }
  store(answer.AuthenticationResult);
  return user();
}

export async function signUp(username, password, email) {
  const body = { ClientId: (await loadConfig()).clientId, Username: username, Password: password };
  if (email) body.UserAttributes = [{ Name: 'email', Value: email }];
  const answer = await cognito('SignUp', body).catch((error) => { throw withField(error, true); });
  if (answer.UserConfirmed === false) {
    throw new AuthError('UserNotConfirmedException', 'Your account was created but must be confirmed (check your mail) before you can sign in.');
  }
  return signIn(username, password);
}

/** REFRESH_TOKEN_AUTH: new ID and access tokens; signs out when the pool refuses the refresh token. */
export function refresh() {
  if (!session?.refreshToken) return Promise.reject(new AuthError('NotAuthorizedException', 'Not signed in'));
  refreshing ??= cognito('InitiateAuth', {
    AuthFlow: 'REFRESH_TOKEN_AUTH',
    ClientId: config.clientId,
    AuthParameters: { REFRESH_TOKEN: session.refreshToken },
  }).then((answer) => {
    store(answer.AuthenticationResult, session?.refreshToken);
  }, (error) => {
    if (error.type !== 'NetworkError') signOut('expired');
    throw error;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

function forget() {
  session = null;
  clearTimeout(refreshTimer);
  try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
}

/** Forgets the tokens. `reason` is passed to listeners' second argument ('expired' when the pool refused a refresh). */
export function signOut(reason = 'signed-out') {
  const had = Boolean(session);
  const refreshToken = session?.refreshToken;
  forget();
  // Signing out ends the session at the pool too: the refresh token is revoked (RevokeToken), not only
  // forgotten by this browser. Best effort: the page is signed out whatever the pool answers.
  if (reason === 'signed-out' && refreshToken && config?.clientId) {
    cognito('RevokeToken', { Token: refreshToken, ClientId: config.clientId }).catch(() => {});
  }
  if (had) for (const listener of listeners) listener(null, reason);
}

/** Attaches the form field an error is about (user name or password) for showing it in place. */
function withField(error, signingUp = false) {
  if (!(error instanceof AuthError)) return error;
  const message = error.message;
  switch (error.type) {
    case 'UsernameExistsException': error.field = 'username'; error.message = 'That user name is taken — choose another or sign in.'; break;
    case 'InvalidPasswordException': error.field = 'password'; error.message = message.replace(/^Password did not conform with policy: /, ''); break;
    case 'NotAuthorizedException': error.field = 'password'; break;
    case 'UserNotFoundException': error.field = 'username'; break;
    case 'InvalidParameterException':
      if (/email/i.test(message)) error.field = 'email';
      else if (/user ?name/i.test(message)) error.field = 'username';
      else if (/password/i.test(message)) error.field = 'password';
      break;
    case 'TooManyRequestsException': error.message = 'Too many attempts — wait a moment and try again.'; break;
    default: break;
  }
  if (signingUp && error.type === 'NotAuthorizedException') error.field = undefined;
  return error;
}
