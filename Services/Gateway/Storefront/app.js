// The storefront's entry: hash routes (#/basket, #/orders/{user}/{id}, #/messages, #/admin, …), the header,
// and what each route needs (a signed-in user, an admin).
import * as auth from './auth.js';
import { ApiError } from './api.js';
import { onBasket, basketCount, loadBasketCount, setBasket, navigate } from './state.js';
import { h, mount, notice, toast, setTitle } from './ui.js';
import { catalogPage } from './catalog.js';
import { signInPage } from './account.js';
import { basketPage, checkoutPage } from './basket.js';
import { trackPage, orderPage, ordersPage } from './orders.js';
import { adminPage } from './admin.js';
import { messagesPage } from './messages.js';

const ROUTES = [
  [/^\/?$/, catalogPage],
  [/^\/signin$/, signInPage],
  [/^\/basket$/, basketPage, { signedIn: true }],
  [/^\/checkout$/, checkoutPage, { signedIn: true }],
  [/^\/track\/(?<checkoutId>[^/]+)$/, trackPage, { signedIn: true }],
  [/^\/orders$/, ordersPage, { signedIn: true }],
  [/^\/orders\/(?<userName>[^/]+)\/(?<orderId>[^/]+)$/, orderPage, { signedIn: true }],
  [/^\/messages$/, messagesPage, { signedIn: true }],
  [/^\/admin(?:\/(?<tab>[a-z-]+))?$/, adminPage, { signedIn: true, admin: true }],
];

const main = document.getElementById('main-content');
let controller = null;
let firstRender = true;

function parse(hash) {
  const raw = hash.startsWith('#/') ? hash.slice(1) : '/';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

async function route() {
  // Only app routes (#/...): other fragments, like the skip link's, are in-page anchors.
  if (location.hash && !location.hash.startsWith('#/') && !firstRender) return;
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const { path, query } = parse(location.hash);
  const match = ROUTES.map(([pattern, page, needs]) => [path.match(pattern), page, needs || {}]).find(([m]) => m);
  main.dataset.route = location.hash || '#/'; // which route the page shows (tests wait for it)
  renderNav(path);
  setTitle('');
  window.scrollTo(0, 0);
  if (!match) {
    mount(main, h('div', { class: 'narrow' }, h('h1', { tabindex: '-1' }, 'Page not found'),
      notice('warning', 'There is no such page in the shop.'), h('a', { class: 'btn btn-primary', href: '#/' }, 'Go to the catalog')));
    focusMain();
    return;
  }
  const [m, page, needs] = match;
  const user = auth.user();
  if (needs.signedIn && !user) {
    navigate(`#/signin?return=${encodeURIComponent(location.hash)}`, { replace: true });
    return;
  }
  if (needs.admin && !user.isAdmin) {
    mount(main, h('div', { class: 'narrow', id: 'access-denied' }, h('h1', { tabindex: '-1' }, 'Admins only'),
      notice('error', `You are signed in as ${user.name}, who is not in the admin group.`),
      h('a', { class: 'btn btn-primary', href: '#/' }, 'Go to the catalog')));
    focusMain();
    return;
  }
  const params = Object.fromEntries(Object.entries(m.groups || {}).map(([k, v]) => [k, v === undefined ? v : safeDecode(v)]));
  try {
    // Each navigation renders into its own container: a page still loading when the user moves on
    // writes into a detached element, never over the next page.
    const view = h('div', { class: 'view' });
    mount(main, view);
    const rendering = page({ main: view, params, query, signal });
    focusMain();
    await rendering;
  } catch (error) {
    if (error?.name === 'AbortError' || signal.aborted) return;
    showFailure(error);
  }
}

function safeDecode(value) {
  try { return decodeURIComponent(value); } catch { return value; }
}

/** After navigating, keyboard and screen-reader users continue at the new page (not on the link they left). */
function focusMain() {
  if (firstRender) { firstRender = false; return; }
  main.focus({ preventScroll: true });
}

function showFailure(error) {
  console.error(error);
  if (error instanceof ApiError && error.status === 401) {
    navigate(`#/signin?expired=1&return=${encodeURIComponent(location.hash)}`, { replace: true });
    return;
  }
  const forbidden = error instanceof ApiError && error.status === 403;
  mount(main, h('div', { class: 'narrow' },
    h('h1', { tabindex: '-1' }, forbidden ? 'Not allowed' : 'Something went wrong'),
    notice('error', forbidden ? `403 — ${error.message}` : error.message || String(error)),
    h('p', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => route() }, 'Try again'),
      h('a', { class: 'btn btn-ghost', href: '#/' }, 'Catalog'))));
  main.querySelector('h1')?.focus();
}

// MARK: header

const nav = document.getElementById('nav');
const account = document.getElementById('account');

function renderNav(path = parse(location.hash).path) {
  const user = auth.user();
  const link = (href, label, active, extra = {}) => h('li', {}, h('a', { href, 'aria-current': active ? 'page' : null, ...extra }, label));
  const count = basketCount();
  mount(nav,
    link('#/', 'Catalog', path === '/' || path === ''),
    user ? link('#/orders', 'Orders', path.startsWith('/orders') || path.startsWith('/track')) : null,
    user ? link('#/messages', 'Messages', path === '/messages', { id: 'messages-link' }) : null,
    user?.isAdmin ? link('#/admin', 'Admin', path.startsWith('/admin')) : null,
    user ? h('li', {}, h('a', { href: '#/basket', class: 'basket-link', id: 'basket-link', 'aria-current': path === '/basket' || path === '/checkout' ? 'page' : null },
      basketIcon(), h('span', {}, 'Basket'),
      count ? h('span', { class: 'count', id: 'basket-count', 'aria-label': `${count} items` }, String(count)) : null)) : null);
  mount(account, user
    ? [h('span', { class: 'user-name', id: 'signed-in-user' }, h('span', { class: 'visually-hidden' }, 'Signed in as '), user.name,
      user.isAdmin ? h('span', { class: 'role' }, 'admin') : null),
    h('button', { type: 'button', class: 'btn btn-small btn-on-dark', id: 'sign-out', onclick: signOut }, 'Sign out')]
    : h('a', { href: `#/signin?return=${encodeURIComponent(location.hash.startsWith('#/signin') ? '#/' : location.hash || '#/')}`, class: 'btn btn-small btn-on-dark', id: 'sign-in-link' }, 'Sign in'));
}

function basketIcon() {
  return h('svg:svg', { viewBox: '0 0 24 24', width: '18', height: '18', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'aria-hidden': 'true', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' },
    h('svg:path', { d: 'M5 8h14l-1.5 11h-11z' }), h('svg:path', { d: 'M9 8V6a3 3 0 0 1 6 0v2' }));
}

function signOut() {
  auth.signOut();
  toast('Signed out.', 'info');
  navigate('#/');
}

// MARK: start

auth.onChange((user, reason) => {
  if (!user) setBasket(null);
  renderNav();
  if (!user && reason === 'expired') {
    toast('Your session ended. Please sign in again.', 'error');
  }
});
onBasket(() => renderNav());
window.addEventListener('hashchange', route);
// The skip link moves focus without changing the route.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

(async function start() {
  try {
    await auth.restore();
  } catch (error) {
    mount(main, h('div', { class: 'narrow' }, h('h1', {}, 'The storefront is not configured'),
      notice('error', `Could not load /storefront/config.json (${error.message}).`)));
    return;
  }
  if (auth.user()) loadBasketCount();
  await route();
}());
