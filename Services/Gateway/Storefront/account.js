// Sign in and create an account (the user pool's InitiateAuth and SignUp).
import * as auth from './auth.js';
import { navigate, loadBasketCount } from './state.js';
import { h, mount, field, showErrors, clearErrors, values, busy, toast, notice, setTitle } from './ui.js';

/** Only routes of this app are followed after sign-in (never another site). */
function returnTo(query) {
  const target = query.get('return') || '#/';
  return /^#\/[^\s]*$/.test(target) && !target.startsWith('#/signin') ? target : '#/';
}

export async function signInPage({ main, query }) {
  const target = returnTo(query);
  const user = auth.user();
  setTitle('Sign in');
  if (user) {
    mount(main, h('div', { class: 'narrow' },
      h('h1', { tabindex: '-1' }, 'You are signed in'),
      h('p', {}, `Signed in as ${user.name}${user.isAdmin ? ' (admin)' : ''}.`),
      h('p', { class: 'actions' },
        h('a', { class: 'btn btn-primary', href: target }, 'Continue'),
        h('button', { type: 'button', class: 'btn', onclick: () => { auth.signOut(); navigate('#/signin'); } }, 'Sign out'))));
    return;
  }

  const done = async (signedIn, verb) => {
    toast(`${verb} as ${signedIn.name}.`, 'success');
    loadBasketCount();
    navigate(target, { replace: true });
  };

  const signInForm = h('form', {
    class: 'card form', id: 'signin-form', novalidate: true, 'aria-labelledby': 'signin-title',
    onsubmit: async (event) => {
      event.preventDefault();
      clearErrors(signInForm);
      const { username, password } = values(signInForm);
      await busy(signInForm.querySelector('button[type=submit]'), 'Signing in…', async () => {
        try {
          done(await auth.signIn(username, signInForm.elements.password.value || password), 'Signed in');
        } catch (error) {
          showErrors(signInForm, error);
        }
      });
    },
  },
  h('h2', { id: 'signin-title' }, 'Sign in'),
  field('User name', 'username', { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
  field('Password', 'password', { type: 'password', autocomplete: 'current-password', required: true }),
  h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in'),
  auth.isLocalPool()
    ? h('p', { class: 'hint demo-users' }, 'Demo accounts of the local pool: ', h('code', {}, 'swn'), ' / ', h('code', {}, 'Swn-Passw0rd!'),
      ' (customer) and ', h('code', {}, 'admin'), ' / ', h('code', {}, 'Admin-Passw0rd!'), ' (admin).')
    : null);

  const signUpForm = h('form', {
    class: 'card form', id: 'signup-form', novalidate: true, 'aria-labelledby': 'signup-title',
    onsubmit: async (event) => {
      event.preventDefault();
      clearErrors(signUpForm);
      const { username, email } = values(signUpForm);
      const password = signUpForm.elements.password.value;
      const local = {};
      if (!username) local.username = 'Choose a user name.';
      else if (!/^[\p{L}\p{M}\p{N}_.@+-]+$/u.test(username)) local.username = 'Use letters, digits and _ . - @ + only.';
      if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) local.email = 'Enter an email address like ada@example.com, or leave it empty.';
      if (!password) local.password = 'Choose a password.';
      if (Object.keys(local).length) {
        showErrors(signUpForm, { errors: Object.entries(local).map(([f, detail]) => ({ field: f, detail })) });
        return;
      }
      await busy(signUpForm.querySelector('button[type=submit]'), 'Creating your account…', async () => {
        try {
          done(await auth.signUp(username, password, email), 'Welcome! Signed in');
        } catch (error) {
          showErrors(signUpForm, error);
        }
      });
    },
  },
  h('h2', { id: 'signup-title' }, 'New here? Create an account'),
  field('User name', 'username', { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' },
    { hint: 'Letters, digits and _ . - @ + (it appears in your order links).' }),
  field('Email (optional)', 'email', { type: 'email', autocomplete: 'email' }),
  field('Password', 'password', { type: 'password', autocomplete: 'new-password', required: true },
    { hint: 'At least 8 characters with upper- and lowercase letters, a digit and a symbol.' }),
  h('button', { type: 'submit', class: 'btn btn-block' }, 'Create account'));

  mount(main,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Sign in or create an account')),
    query.get('expired') ? notice('warning', 'Your session ended. Please sign in again.') : null,
    h('div', { class: 'two-col' }, signInForm, signUpForm));
}
