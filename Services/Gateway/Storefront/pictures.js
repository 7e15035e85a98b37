// Product pictures: a product's image (`imageUrl`, served by GET /product/{id}/image), or the line-art
// placeholder when it has none or its image does not load. Always in a frame of a fixed aspect ratio, so the
// page does not jump while images arrive (they load lazily).
import * as api from './api.js';
import { h, productArt } from './ui.js';

/** Shows the placeholder in `frame` instead of its image. */
function placeholder(frame, product) {
  frame.replaceChildren(productArt(product));
  frame.classList.add('no-image');
  frame.classList.remove('has-image');
}

/** Puts the image at `src` in `frame` (alt text: the product's name); the placeholder when it fails (a 404). */
function showImage(frame, product, src) {
  const img = h('img', {
    src, alt: product.name || '', loading: 'lazy', decoding: 'async', width: '320', height: '200',
    onerror: () => placeholder(frame, product),
  });
  frame.replaceChildren(img);
  frame.classList.add('has-image');
  frame.classList.remove('no-image');
  return img;
}

/**
 * A product's picture: its image when it has one (`imageUrl`), else the placeholder. In a catalog card's frame,
 * or (`className: 'thumb'`) a small one (the admin's table).
 */
export function productPicture(product, { className = 'product-media' } = {}) {
  const frame = h('div', { class: className });
  if (typeof product.imageUrl === 'string' && product.imageUrl) showImage(frame, product, product.imageUrl);
  else placeholder(frame, product);
  return frame;
}

/**
 * A small picture for a line of a basket or an order: the placeholder until `showPictures` has looked the
 * product up (lines carry the product's id and name only).
 */
export function lineThumb(productId, name) {
  const frame = h('div', { class: 'thumb', dataset: { thumbFor: String(productId || '').toLowerCase() } });
  frame.thumbProduct = { name, category: '' };
  placeholder(frame, frame.thumbProduct);
  return frame;
}

/**
 * Shows the pictures of the thumbnails (`lineThumb`) under `root`: one look-up of their products
 * (GET /product?ids=…) for their `imageUrl`; a product without a picture keeps the placeholder, as does one
 * that left the catalog. Where the look-up fails, or the catalog does not say `imageUrl`, the image is
 * asked for directly (GET /product/{id}/image; a 404 keeps the placeholder). Quiet: pictures are a nicety.
 */
export async function showPictures(root) {
  const frames = [...root.querySelectorAll('.thumb[data-thumb-for]')].filter((f) => f.dataset.thumbFor);
  if (!frames.length) return;
  let byId = null;
  try {
    const products = await api.productsByIds(frames.map((f) => f.dataset.thumbFor));
    byId = new Map(products.map((p) => [String(p.id).toLowerCase(), p]));
  } catch {
    byId = null;
  }
  for (const frame of frames) {
    if (!frame.isConnected) continue;
    const id = frame.dataset.thumbFor;
    const product = byId?.get(id);
    const shown = { ...frame.thumbProduct, category: product?.category || '' };
    if (byId && !product) continue; // no longer in the catalog
    if (product && 'imageUrl' in product) {
      if (typeof product.imageUrl === 'string' && product.imageUrl) showImage(frame, shown, product.imageUrl);
      else placeholder(frame, shown);
    } else {
      showImage(frame, shown, api.productImagePath(id));
    }
  }
}
