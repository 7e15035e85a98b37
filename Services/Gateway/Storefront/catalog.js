// The catalog: categories, products with price and stock, add to basket (quantity and color).
import * as api from './api.js';
import * as auth from './auth.js';
import { setBasket, navigate } from './state.js';
import { h, mount, money, field, select, showErrors, clearErrors, busy, toast, pageTitle, loading, notice, productArt, hidden, setTitle } from './ui.js';

export const COLORS = ['Black', 'White', 'Silver', 'Blue', 'Red'];

export async function catalogPage({ main, query }) {
  const category = query.get('category') || '';
  mount(main, pageTitle('Catalog'), loading('Loading the catalog…'));
  const [everything, shown] = await Promise.all([api.products(), category ? api.products(category) : null]);
  const products = shown ?? everything;
  const categories = [...new Set(everything.map((p) => p.category))].sort((a, b) => a.localeCompare(b));
  const user = auth.user();
  setTitle(category || 'Catalog');

  const categoryLink = (name, label) => h('li', {},
    h('a', { href: name ? `#/?category=${encodeURIComponent(name)}` : '#/', class: 'chip', 'aria-current': name === category ? 'page' : null }, label));

  mount(main,
    h('section', { class: 'hero' },
      h('div', {},
        h('h1', { tabindex: '-1' }, category || 'Catalog'),
        h('p', { class: 'lead' }, user
          ? `Welcome back, ${user.name}. Add to your basket, check out, and watch your order move through the saga live.`
          : 'Browse the shop, sign in to fill a basket, check out, and watch the order move through the saga live.'))),
    h('nav', { class: 'categories', 'aria-label': 'Categories' },
      h('ul', {}, categoryLink('', `All (${everything.length})`),
        categories.map((c) => categoryLink(c, `${c} (${everything.filter((p) => p.category === c).length})`)))),
    products.length
      ? h('ul', { class: 'product-grid', 'aria-label': 'Products' }, products.map((p) => h('li', {}, productCard(p))))
      : notice('info', category ? `No products in ${category}.` : 'The catalog is empty. An admin can add products in the admin view.'));
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
    productArt(product),
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
