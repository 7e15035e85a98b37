// The catalog: search as you type, filters (category with counts, price range, in stock), products with their
// picture, price and stock, add to basket (quantity and color).
import * as api from './api.js';
import * as auth from './auth.js';
import { setBasket, navigate } from './state.js';
import { h, mount, money, field, select, showErrors, clearErrors, busy, toast, notice, hidden, setTitle } from './ui.js';
import { productPicture } from './pictures.js';

export const COLORS = ['Black', 'White', 'Silver', 'Blue', 'Red'];

/** The catalog's filters, in the order the URL gives them: `#/?q=phone&category=…&minPrice=…&maxPrice=…&inStock=true`. */
const FILTERS = ['q', 'category', 'minPrice', 'maxPrice', 'inStock'];
/** A price filter as the API takes it: digits (at most 10), optionally a point and one or two decimals. */
const PRICE = /^\d{1,10}(\.\d{1,2})?$/;
const PAGE_SIZE = 24;
/** Typing waits this long for the next key before it searches. */
const DEBOUNCE_MS = 250;

/** The filter a route's query names. */
function filterOf(query) {
  return {
    q: (query.get('q') || '').trim().slice(0, 200),
    category: query.get('category') || '',
    minPrice: (query.get('minPrice') || '').trim(),
    maxPrice: (query.get('maxPrice') || '').trim(),
    inStock: query.get('inStock') === 'true',
  };
}

/** The catalog's route for a filter (`#/` without one). */
function hashOf(filter) {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    if (name === 'inStock' ? filter.inStock : filter[name]) params.set(name, name === 'inStock' ? 'true' : filter[name]);
  }
  const text = params.toString();
  return text ? `#/?${text}` : '#/';
}

const filtered = (filter) => Boolean(filter.q || filter.category || filter.minPrice || filter.maxPrice || filter.inStock);
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/**
 * #/ (with `?q=…&category=…&minPrice=…&maxPrice=…&inStock=true`): the catalog with a search box that searches as
 * one types (GET /product?q=, ranked best first; typos forgiven by the server), the categories with how many
 * products each would show (GET /product/facets), a price range and "in stock only". The filter is kept in the
 * URL (reload and back show it again); a problem with a filter (a 400 naming it) shows next to its control.
 */
export async function catalogPage({ main, query, signal }) {
  let filter = filterOf(query);
  const routeHolder = document.getElementById('main-content');
  const user = auth.user();

  let generation = 0; // the latest search: answers to earlier ones are dropped
  let inflight = null; // its AbortController
  let timer = null; // the debounced search waiting for the next key
  let cursor = null; // where "Show more" continues
  let typingEntry = false; // typing has its history entry already: later keys replace it
  signal?.addEventListener('abort', () => { clearTimeout(timer); inflight?.abort(); }, { once: true });

  const heading = h('h1', { tabindex: '-1' });
  const status = h('p', { class: 'results-status', id: 'catalog-status', role: 'status' });
  const grid = h('ul', { class: 'product-grid', id: 'catalog-results', 'aria-label': 'Products', dataset: { state: 'loading', query: '' } });
  const empty = h('div', { class: 'results-empty' });
  const more = h('button', { type: 'button', class: 'btn', id: 'show-more', hidden: true, onclick: () => showMore() }, 'Show more products');
  const chips = h('ul', {});
  const priceRange = h('p', { class: 'hint price-range', id: 'price-range' });
  const clear = h('button', { type: 'button', class: 'btn btn-ghost btn-small', id: 'clear-filters', hidden: !filtered(filter), onclick: () => clearAll() }, 'Clear filters');

  const form = h('form', {
    class: 'card catalog-filters', id: 'catalog-filters', role: 'search', novalidate: true, 'aria-label': 'Search and filter the catalog',
    onsubmit: (event) => { event.preventDefault(); commit({ push: true, now: true }); },
  },
  h('div', { class: 'form-error', role: 'alert', tabindex: '-1' }),
  h('div', { class: 'search-row' },
    field('Search the catalog', 'q', {
      type: 'search', value: filter.q, placeholder: 'Name, category or description, e.g. iphone', maxlength: '200',
      autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search', 'aria-controls': 'catalog-results',
    }),
    h('button', { type: 'submit', class: 'btn btn-primary search-button' }, searchIcon(), 'Search')),
  h('div', { class: 'filter-row' },
    field('Min price (USD)', 'minPrice', { inputmode: 'decimal', autocomplete: 'off', value: filter.minPrice, maxlength: '13', 'aria-controls': 'catalog-results' }),
    field('Max price (USD)', 'maxPrice', { inputmode: 'decimal', autocomplete: 'off', value: filter.maxPrice, maxlength: '13', 'aria-controls': 'catalog-results' }),
    h('div', { class: 'field field-check', dataset: { field: 'inStock' } },
      h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'inStock', id: 'in-stock-only', checked: filter.inStock, 'aria-describedby': 'in-stock-error', 'aria-controls': 'catalog-results' }),
        'In stock only'),
      h('p', { class: 'field-error', id: 'in-stock-error', role: 'alert', dataset: { errorFor: 'inStock' } })),
    h('div', { class: 'filter-actions' }, clear)),
  priceRange,
  h('nav', { class: 'categories', 'aria-label': 'Categories' },
    h('p', { class: 'categories-label', id: 'categories-label' }, 'Category'),
    chips,
    h('p', { class: 'field-error', id: 'category-error', role: 'alert', dataset: { errorFor: 'category' } })));

  mount(main,
    h('section', { class: 'hero' },
      h('div', {},
        heading,
        h('p', { class: 'lead' }, user
          ? `Welcome back, ${user.name}. Add to your basket, check out, and watch your order move through the saga live.`
          : 'Browse the shop, sign in to fill a basket, check out, and watch the order move through the saga live.'))),
    form,
    h('div', { class: 'results-head' }, status),
    empty,
    grid,
    h('p', { class: 'more-row' }, more));

  const input = (name) => form.elements[name];

  /** A price as typed, a point still waiting for its decimals (`19.`) left out. */
  const price = (name) => input(name).value.trim().replace(/\.$/, '');
  /** The filter as the controls say (the category is chosen with the links). */
  const read = () => ({
    q: input('q').value.trim(), category: filter.category, minPrice: price('minPrice'), maxPrice: price('maxPrice'), inStock: input('inStock').checked,
  });

  /** A problem with the filter next to its control (a 400's `field`), else at the top of the form. Takes no focus: the customer may be typing. */
  const showProblem = (problems) => {
    clearErrors(form);
    for (const { field: name, detail } of problems) {
      const slot = FILTERS.includes(name) && form.querySelector(`[data-error-for="${name}"]`);
      if (slot) {
        slot.textContent = detail;
        input(name)?.setAttribute('aria-invalid', 'true');
      } else {
        const box = form.querySelector('.form-error');
        box.textContent = detail;
        box.classList.add('visible');
      }
    }
  };

  const settle = (state) => {
    grid.dataset.state = state;
    if (state === 'loading') grid.setAttribute('aria-busy', 'true');
    else grid.removeAttribute('aria-busy');
  };

  /** The category links with their counts (what choosing each would show), the chosen one marked. */
  const renderCategories = (facets) => {
    const counts = facets.categories || [];
    const all = counts.reduce((n, c) => n + c.count, 0);
    const shown = filter.category && !counts.some((c) => c.name === filter.category) ? counts.concat({ name: filter.category, count: 0 }) : counts;
    const focused = chips.contains(document.activeElement) ? document.activeElement.dataset.category : null;
    const link = (name, label, count) => h('li', {},
      h('a', {
        href: hashOf({ ...filter, category: name }), class: 'chip', 'aria-current': name === filter.category ? 'page' : null,
        dataset: { category: name, count: String(count) },
        onclick: (event) => {
          if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // a new tab or window: the link as it is
          event.preventDefault();
          filter = { ...read(), category: name };
          commit({ push: true, now: true });
        },
      }, label, h('span', { class: 'count' }, ` (${count})`)));
    mount(chips, link('', 'All', all), shown.map((c) => link(c.name, c.name, c.count)));
    if (focused !== null && focused !== undefined) chips.querySelector(`[data-category="${CSS.escape(focused)}"]`)?.focus();
    return filter.category ? (counts.find((c) => c.name === filter.category)?.count ?? 0) : all;
  };

  const describe = (total) => {
    const words = [filter.q ? plural(total, 'result', 'results') : plural(total, 'product', 'products')];
    if (filter.q) words.push(`for “${filter.q}”`);
    if (filter.category) words.push(`in ${filter.category}`);
    const limits = [
      filter.minPrice ? `from ${money(filter.minPrice)}` : null, filter.maxPrice ? `up to ${money(filter.maxPrice)}` : null,
      filter.inStock ? 'in stock' : null].filter(Boolean);
    return words.join(' ') + (limits.length ? ` · ${limits.join(', ')}` : '');
  };

  const showHeading = () => {
    heading.textContent = filter.category || 'Catalog';
    setTitle(filter.q ? `Search: ${filter.q}` : filter.category || 'Catalog');
  };

  /** Searches with `filter` now: the first page and the facets; an older search still running is cancelled. */
  const load = async ({ initial = false } = {}) => {
    const run = ++generation;
    const asked = filter;
    inflight?.abort();
    inflight = new AbortController();
    const own = inflight.signal;
    settle('loading');
    showHeading();
    mount(status, h('span', { class: 'spinner', 'aria-hidden': 'true' }), filter.q ? 'Searching…' : 'Loading the catalog…');
    let page;
    let facets;
    try {
      [page, facets] = await Promise.all([api.searchProducts(filter, { limit: PAGE_SIZE, signal: own }), api.productFacets(filter, { signal: own })]);
    } catch (error) {
      if (run !== generation || error?.name === 'AbortError' || signal?.aborted) return;
      settle('error');
      if (error.status === 400 || !initial) {
        showProblem([{ field: error.field, detail: error.message }]);
        mount(status, error.status === 400 ? 'Fix the filter to see products.' : 'The catalog could not be loaded.');
        return;
      }
      throw error; // the first load: the page's error, with Try again
    }
    if (run !== generation) return;
    clearErrors(form);
    const total = renderCategories(facets);
    const range = facets.price || {};
    priceRange.textContent = range.min === null || range.min === undefined ? ''
      : Number(range.min) === Number(range.max) ? `Price found: ${money(range.min)}` : `Prices found: ${money(range.min)} to ${money(range.max)}`;
    input('minPrice').placeholder = range.min !== null && range.min !== undefined ? String(Math.floor(range.min)) : '';
    input('maxPrice').placeholder = range.max !== null && range.max !== undefined ? String(Math.ceil(range.max)) : '';
    const items = page.items || [];
    cursor = page.nextCursor || null;
    mount(grid, items.map((p) => h('li', {}, productCard(p))));
    more.hidden = !cursor;
    clear.hidden = !filtered(filter);
    mount(status, describe(items.length && !cursor ? items.length : Math.max(total, items.length)));
    mount(empty, items.length ? null : filtered(filter)
      ? notice('info', `No products match${filter.q ? ` “${filter.q}”` : ''}${filter.category ? ` in ${filter.category}` : ''}${filter.minPrice || filter.maxPrice || filter.inStock ? ' with these filters' : ''}. `,
        h('button', { type: 'button', class: 'link-button', onclick: () => clearAll() }, 'Clear the filters'))
      : notice('info', 'The catalog is empty. An admin can add products in the admin view.'));
    grid.dataset.query = hashOf(asked).replace(/^#\/\??/, ''); // the filter these results answer
    settle('ready');
  };

  /** The next page of the same search, added below. */
  const showMore = () => busy(more, 'Loading…', async () => {
    const run = generation;
    try {
      const page = await api.searchProducts(filter, { cursor, limit: PAGE_SIZE, signal: inflight?.signal });
      if (run !== generation) return;
      grid.append(...(page.items || []).map((p) => h('li', {}, productCard(p))));
      cursor = page.nextCursor || null;
    } catch (error) {
      if (run !== generation || error?.name === 'AbortError') return;
      toast(error.message, 'error');
      return;
    }
    more.hidden = !cursor;
    grid.querySelector('li:last-child')?.scrollIntoView({ block: 'nearest' });
  });

  /**
   * Takes the controls' filter: checks the prices here (the rest is the server's to judge), keeps it in the URL
   * (a new history entry with `push`; typing replaces its own entry after the first key) and searches, after
   * DEBOUNCE_MS unless `now`.
   */
  let pendingPush = false; // a debounced search to come makes a history entry (an earlier key asked for one)
  const commit = ({ push = false, now = false } = {}) => {
    clearTimeout(timer);
    pendingPush ||= push;
    const go = () => {
      const entry = pendingPush;
      pendingPush = false;
      const next = { ...read(), category: filter.category };
      const problems = ['minPrice', 'maxPrice'].filter((name) => next[name] && !PRICE.test(next[name]))
        .map((name) => ({ field: name, detail: 'Enter an amount like 19.99 (digits, at most two decimals).' }));
      if (problems.length) {
        inflight?.abort();
        generation += 1; // an answer still coming is for the previous filter
        settle('error');
        showProblem(problems);
        mount(status, 'Fix the price to see products.');
        return;
      }
      filter = next;
      const hash = hashOf(filter);
      if (hash !== (location.hash || '#/')) {
        history[entry ? 'pushState' : 'replaceState'](null, '', hash);
        routeHolder.dataset.route = hash; // the route the page shows (as the router records it)
      }
      load();
    };
    if (now) go();
    else timer = setTimeout(go, DEBOUNCE_MS);
  };

  /** Typing (the search box, the prices): the first search of a burst of typing gets a history entry, the next ones replace it. */
  const typed = () => {
    const push = !typingEntry;
    typingEntry = true;
    commit({ push });
  };
  for (const name of ['q', 'minPrice', 'maxPrice']) {
    input(name).addEventListener('input', typed);
    input(name).addEventListener('blur', () => { typingEntry = false; });
  }
  input('inStock').addEventListener('change', () => { typingEntry = false; commit({ push: true, now: true }); });

  const clearAll = () => {
    for (const name of ['q', 'minPrice', 'maxPrice']) input(name).value = '';
    input('inStock').checked = false;
    filter = { ...read(), category: '' };
    typingEntry = false;
    commit({ push: true, now: true });
    input('q').focus();
  };

  // The route's filter, checked as typed ones are.
  const problems = ['minPrice', 'maxPrice'].filter((name) => filter[name] && !PRICE.test(filter[name]));
  if (problems.length) {
    showHeading();
    renderCategories({ categories: [] });
    settle('error');
    showProblem(problems.map((name) => ({ field: name, detail: 'Enter an amount like 19.99 (digits, at most two decimals).' })));
    mount(status, 'Fix the price to see products.');
    return;
  }
  await load({ initial: true });
}

function searchIcon() {
  return h('svg:svg', { viewBox: '0 0 24 24', width: '18', height: '18', fill: 'none', stroke: 'currentColor', 'stroke-width': '2.2', 'aria-hidden': 'true', 'stroke-linecap': 'round' },
    h('svg:circle', { cx: '11', cy: '11', r: '6.5' }), h('svg:path', { d: 'M16 16l4.5 4.5' }));
}

function stockLabel(stock) {
  if (stock <= 0) return h('span', { class: 'stock stock-out' }, 'Out of stock');
  if (stock <= 5) return h('span', { class: 'stock stock-low' }, `Only ${stock} left`);
  return h('span', { class: 'stock' }, `${stock} in stock`);
}

function productCard(product) {
  const soldOut = product.stock <= 0;
  const form = h('form', { class: 'add-form', novalidate: true, onsubmit: (event) => { event.preventDefault(); add(product, form); } },
    h('div', { class: 'add-row' },
      field(['Quantity', hidden(` of ${product.name}`)], 'quantity', { type: 'number', min: '1', max: String(Math.max(1, Math.min(1000, product.stock))), value: '1', inputmode: 'numeric', class: 'qty' }),
      field(['Color', hidden(` of ${product.name}`)], 'color', {}, { control: select('color', COLORS, COLORS[0]) })),
    h('button', { type: 'submit', class: 'btn btn-primary btn-block', disabled: soldOut }, soldOut ? 'Sold out' : 'Add to basket', hidden(`: ${product.name}`)));
  return h('article', { class: 'card product', dataset: { productId: product.id, name: product.name } },
    productPicture(product),
    h('div', { class: 'product-body' },
      h('p', { class: 'product-category' }, product.category),
      h('h2', { class: 'product-name' }, product.name),
      product.description ? h('p', { class: 'product-desc' }, product.description) : null,
      h('p', { class: 'product-meta' }, h('span', { class: 'price', dataset: { price: product.price } }, money(product.price)), stockLabel(product.stock)),
      form));
}

async function add(product, form) {
  clearErrors(form);
  if (!auth.user()) {
    toast('Sign in to add items to your basket.', 'info');
    navigate(`#/signin?return=${encodeURIComponent(location.hash || '#/')}`);
    return;
  }
  const quantity = Number(form.elements.quantity.value);
  const color = form.elements.color.value;
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 1000) {
    showErrors(form, { field: 'quantity', message: 'Enter a whole number from 1 to 1000.' });
    return;
  }
  if (quantity > product.stock) {
    showErrors(form, { field: 'quantity', message: `Only ${product.stock} in stock.` });
    return;
  }
  const button = form.querySelector('button[type=submit]');
  await busy(button, 'Adding…', async () => {
    try {
      const current = await api.basket();
      const items = (current.items || []).filter((item) => item.available !== false)
        .map(({ productId, quantity: q, color: c }) => ({ productId, quantity: q, color: c }));
      const line = items.find((item) => item.productId.toLowerCase() === product.id.toLowerCase() && (item.color || '') === color);
      if (line) line.quantity += quantity;
      else items.push({ productId: product.id, quantity, color });
      const stored = await api.saveBasket(items);
      setBasket(stored);
      toast(`Added ${quantity} × ${product.name} (${color}) to your basket.`, 'success', h('a', { href: '#/basket' }, 'View basket'));
    } catch (error) {
      // A problem about this line (`items[3].quantity`) belongs to this card's quantity field.
      showErrors(form, error, (name) => (/^items\[\d+\]\.quantity$/.test(name || '') || name === 'totalPrice' ? 'quantity'
        : /^items\[\d+\]\.color$/.test(name || '') ? 'color' : name));
    }
  });
}
