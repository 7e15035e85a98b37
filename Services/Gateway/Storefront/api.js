// The gateway's API (same origin): JSON in and out, the ID token as `Authorization: Bearer`, and
// RFC 9457 problems turned into ApiError (status, detail and the `field` at fault).
import * as auth from './auth.js';

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title;
    this.field = problem.field;
    this.errors = Array.isArray(problem.errors) ? problem.errors : undefined;
    // The problem's machine-readable `code` and the whole parsed body: some problems carry more than a
    // message (a checkout's 409 `PriceChanged` carries the basket at its new prices).
    this.code = problem.code;
    this.body = problem;
  }
}

const user = () => encodeURIComponent(auth.user()?.name ?? '');

/** api('GET', '/product', {query, body, headers}) → the parsed body (null for 204). */
export async function api(method, path, options) {
  return (await send(method, path, options)).data;
}

/**
 * Like `api`, with the answer's `ETag` too: `{ body, etag }` (etag null when the answer has none).
 * For conditional writes: the ETag read goes back as `If-Match`, so a write based on stale values is refused.
 */
export async function versioned(method, path, options) {
  const { data, response } = await send(method, path, options);
  return { body: data, etag: response.headers.get('ETag') };
}

/** Sends a request → `{ data, response }`; refreshes the token once on a 401; a problem becomes an ApiError. */
async function send(method, path, { query, body, raw, headers = {}, cache, signal, retried = false } = {}) {
  const url = new URL(path, location.origin);
  // Percent-encoded (a space as %20): the services do not read `+` as a space (`category=Home+Kitchen` would be
  // a category named "Home+Kitchen"), which URLSearchParams would write.
  const params = Object.entries(query || {}).filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  if (params.length) url.search = [url.search.slice(1), ...params].filter(Boolean).join('&');
  const request = { method, headers: { Accept: 'application/json, application/problem+json', ...headers } };
  if (cache) request.cache = cache;
  if (signal) request.signal = signal;
  if (raw !== undefined) {
    // A file as it is (an image upload): its bytes as the body, its type as the Content-Type.
    request.headers['Content-Type'] = raw.type || 'application/octet-stream';
    request.body = raw;
  } else if (body !== undefined) {
    request.headers['Content-Type'] = 'application/json';
    request.body = JSON.stringify(body);
  }
  let token = null;
  try { token = await auth.idToken(); } catch { token = null; }
  if (token) request.headers.Authorization = `Bearer ${token}`;

  let response;
  try {
    response = await fetch(url, request);
  } catch (error) {
    if (error?.name === 'AbortError' || signal?.aborted) throw error; // the caller gave up on it: not a network error
    throw new ApiError(0, { title: 'Network error', detail: 'The shop could not be reached. Check your connection and try again.' });
  }
  if (response.status === 401 && token && !retried) {
    // The token was refused (expired while in flight, or the pool's keys rotated): refresh once. Only a
    // failed refresh signs out: the retried request's own problems (a 409, a 412) go to the caller.
    let refreshed = false;
    try {
      await auth.refresh();
      refreshed = true;
    } catch {
      auth.signOut('expired');
    }
    if (refreshed) return send(method, path, { query, body, raw, headers, cache, signal, retried: true });
  }
  const type = response.headers.get('Content-Type') || '';
  const data = response.status === 204 || method === 'HEAD' ? null
    : type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    const problem = data && typeof data === 'object' ? data : { detail: typeof data === 'string' && data ? data : undefined };
    if (response.status === 429) {
      const wait = response.headers.get('Retry-After');
      problem.detail = `Too many requests — try again${wait ? ` in ${wait} s` : ' shortly'}.`;
    }
    if (response.status === 401) problem.detail ??= 'Please sign in.';
    throw new ApiError(response.status, problem);
  }
  return { data, response };
}

/** Every page of a paginated list (`{items, nextCursor}`), up to `max` items. */
export async function all(path, query = {}, max = 2000) {
  const items = [];
  let cursor;
  do {
    const page = await api('GET', path, { query: { ...query, limit: 200, cursor } });
    items.push(...(page.items || []));
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

export const products = (category) => all('/product', { category });
/**
 * One page of the catalog as filtered: `filter` is `{q, category, minPrice, maxPrice, inStock}` (empty values left
 * out); with `q` the products are ranked best first. → `{items, nextCursor}`; a bad filter is a 400 naming its
 * parameter (`minPrice`). `signal` cancels it (a newer search).
 */
export const searchProducts = (filter, { cursor, limit = 24, signal } = {}) => api('GET', '/product', { query: { ...filterQuery(filter), limit, cursor }, signal });
/**
 * What the filter finds, counted: `{categories: [{name, count}], price: {min, max}}`. The counts leave the category
 * filter out (each category shows what choosing it would give); min and max are null when nothing is found.
 */
export const productFacets = (filter, { signal } = {}) => api('GET', '/product/facets', { query: filterQuery(filter), signal });
/** The query parameters of a catalog filter (`inStock` only when true). */
export function filterQuery({ q, category, minPrice, maxPrice, inStock } = {}) {
  return { q: q || undefined, category: category || undefined, minPrice: minPrice || undefined, maxPrice: maxPrice || undefined, inStock: inStock ? 'true' : undefined };
}
/** The products with these ids (the ones still in the catalog), at most 100 per request. */
export async function productsByIds(ids) {
  const unique = [...new Set(ids.map((id) => String(id).toLowerCase()))];
  const found = [];
  for (let start = 0; start < unique.length; start += 100) {
    const page = await api('GET', '/product', { query: { ids: unique.slice(start, start + 100).join(','), limit: 100 } });
    found.push(...(page.items || []));
  }
  return found;
}
/** The picture of a product, public (ETag, Cache-Control); 404 when it has none. */
export const productImagePath = (id) => `/product/${encodeURIComponent(id)}/image`;
/**
 * Replaces a product's picture (admin): the file's bytes as the body, its type (image/png, image/jpeg, image/webp)
 * as the Content-Type. 413: larger than 2 MiB; 415: not one of those types; 422: not a readable image.
 */
export const uploadProductImage = (id, file) => api('PUT', productImagePath(id), { raw: file });
export const product = (id) => api('GET', `/product/${encodeURIComponent(id)}`);
export const createProduct = (input) => api('POST', '/product', { body: input });
export const updateProduct = (id, input) => api('PUT', `/product/${encodeURIComponent(id)}`, { body: input });
/**
 * The product as it is now, with its ETag: `{ body, etag }`. Not from the HTTP cache: the ETag must be the
 * current one (the stock, and so the ETag, changes with every sale).
 */
export const productForEdit = (id) => versioned('GET', `/product/${encodeURIComponent(id)}`, { cache: 'no-store' });
/**
 * Saves an edit made on the product read with `etag` (`If-Match`): 412 when it changed since (a sale, another
 * admin). Stock goes as `stockDelta` (units to add or remove), never as an absolute number. → `{ body, etag }`.
 */
export const saveProductEdit = (id, input, etag) => versioned('PUT', `/product/${encodeURIComponent(id)}`, {
  body: input, headers: etag ? { 'If-Match': etag } : {},
});
export const deleteProduct = (id) => api('DELETE', `/product/${encodeURIComponent(id)}`);

export const basket = () => api('GET', `/basket/${user()}`);
/** Stores the whole basket: lines `{productId, quantity, color}`. */
export const saveBasket = (items) => api('POST', '/basket', {
  body: { userName: auth.user()?.name, items: items.map(({ productId, quantity, color }) => ({ productId, quantity, color: color || null })) },
});
export const emptyBasket = () => api('DELETE', `/basket/${user()}`);
/**
 * Checks the basket out. `expectedTotal` is the total the customer saw and confirmed: when the prices
 * changed since, the answer is a 409 `PriceChanged` carrying the repriced basket (`error.body.basket`).
 */
export const checkout = (details, expectedTotal, idempotencyKey) => api('POST', '/basket/checkout', {
  body: { userName: auth.user()?.name, ...details, expectedTotal }, headers: { 'Idempotency-Key': idempotencyKey },
});

export const myOrders = () => api('GET', `/order/${user()}`);
/** The signed-in user's order made from a checkout, or null while it does not exist yet (400 when not a UUID). */
export async function orderOfCheckout(checkoutId) {
  const orders = await api('GET', `/order/${user()}`, { query: { checkoutId } });
  const id = String(checkoutId).toLowerCase();
  return (orders || []).find((o) => String(o.checkoutId).toLowerCase() === id) ?? null;
}
const orderPath = (userName, orderId) => `/order/${encodeURIComponent(userName)}/${encodeURIComponent(orderId)}`;
export const order = (userName, orderId) => api('GET', orderPath(userName, orderId));
/**
 * Asks to cancel the order (202 + the order; `cancelRequested` while shipping decides). 409 once it has
 * shipped (or is cancelled): the problem's detail says why.
 */
export const cancelOrder = (userName, orderId) => api('POST', `${orderPath(userName, orderId)}/cancel`);
/** Asks to return a delivered order (202 + the order, ReturnRequested); 409 when not delivered or too late. */
export const returnOrder = (userName, orderId) => api('POST', `${orderPath(userName, orderId)}/return`);
export const ordersPage = (cursor) => api('GET', '/order', { query: { limit: 50, cursor } });
export const shipmentsPage = (cursor) => api('GET', '/shipment', { query: { limit: 50, cursor } });
export const payment = (orderId) => api('GET', `/payment/${encodeURIComponent(orderId)}`);

/** One page of the signed-in user's e-mails (`GET /notification/{userName}`), newest first: `{items, nextCursor}`. */
export const messagesPage = (cursor) => api('GET', `/notification/${user()}`, { query: { limit: 50, cursor } });

/** One page of the webhooks (admin), newest first: `{items, nextCursor}`. */
export const webhooksPage = (cursor) => api('GET', '/webhook', { query: { limit: 50, cursor } });
/** Every webhook (admin). */
export const webhooks = () => all('/webhook');
/**
 * Subscribes an endpoint to order events (admin): `{url, events, description}` → the webhook with its signing
 * `secret`, which this answer is the only one to carry. 400/422 problems name the field at fault (`url`, `events[1]`).
 */
export const createWebhook = (input) => api('POST', '/webhook', { body: input });
export const deleteWebhook = (id) => api('DELETE', `/webhook/${encodeURIComponent(id)}`);
/** One page of a webhook's deliveries (admin), newest first, each with its attempts (`history`). 404: no such webhook. */
export const webhookDeliveries = (id, cursor) => api('GET', `/webhook/${encodeURIComponent(id)}/deliveries`, { query: { limit: 50, cursor } });
