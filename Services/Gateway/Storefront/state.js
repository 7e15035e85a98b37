// What the header shows besides the user: the number of units in the basket. Pages report the
// basket they loaded or stored; the header listens.
import * as api from './api.js';

const listeners = new Set();
let count = null;

export const basketCount = () => count;

export function onBasket(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Records the basket a page loaded or stored (or null when signed out). */
export function setBasket(basket) {
  count = basket ? (basket.items || []).reduce((n, item) => n + item.quantity, 0) : null;
  for (const listener of listeners) listener(count);
}

/** Loads the signed-in user's basket for the header's count; quiet on errors. */
export async function loadBasketCount() {
  try {
    setBasket(await api.basket());
  } catch {
    /* the count is a nicety: leave it as it was */
  }
}

/** Goes to a route (`#/basket`); `replace` keeps the current entry out of the history. */
export function navigate(hash, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else if (location.hash === hash) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = hash;
  }
}
