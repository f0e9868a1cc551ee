// The sign-in part of the page: the sign-in form (with a notice when the
// session ended on its own), the sign-up form where the environment offers
// it, the confirmation code form, the form for a step signing in asks for (a
// password of one's own, an authenticator code), and "Signed in as … · Sign
// out" in the top bar. What happens is account.ts; this puts it on the page. Passwords stay in
// their inputs until submitted, and the inputs are emptied afterwards.

import type { Account, AccountView } from './account';
import { byId } from './dom';

export class SignInForm {
  private readonly view = byId('signin');
  private readonly signInForm = byId<HTMLFormElement>('signin-form');
  private readonly notice = byId('signin-notice');
  private readonly username = byId<HTMLInputElement>('signin-username');
  private readonly password = byId<HTMLInputElement>('signin-password');
  private readonly signInError = byId('signin-error');
  private readonly signUpOffer = byId('signup-offer');
  private readonly signUpForm = byId<HTMLFormElement>('signup-form');
  private readonly signUpUsername = byId<HTMLInputElement>('signup-username');
  private readonly signUpEmail = byId<HTMLInputElement>('signup-email');
  private readonly signUpPassword = byId<HTMLInputElement>('signup-password');
  private readonly signUpError = byId('signup-error');
  private readonly confirmForm = byId<HTMLFormElement>('confirm-form');
  private readonly confirmUsername = byId('confirm-username');
  private readonly code = byId<HTMLInputElement>('confirm-code');
  private readonly confirmError = byId('confirm-error');
  private readonly challengeForm = byId<HTMLFormElement>('challenge-form');
  private readonly challengeTitle = byId('challenge-title');
  private readonly challengeHint = byId('challenge-hint');
  private readonly challengeLabel = byId('challenge-label');
  private readonly challengeInput = byId<HTMLInputElement>('challenge-input');
  private readonly challengeError = byId('challenge-error');
  private readonly accountBar = byId('account');
  private readonly accountName = byId('account-name');

  constructor(
    private readonly account: Account,
    private readonly signUp: boolean,
    signOut: () => void,
    signOutEverywhere: () => void,
    deleteAccount: () => void,
  ) {
    this.signUpOffer.hidden = !signUp;
    byId('sign-out').addEventListener('click', signOut);
    byId('sign-out-everywhere').addEventListener('click', signOutEverywhere);
    byId('delete-account').addEventListener('click', deleteAccount);
    byId('signup-show').addEventListener('click', () => this.showCard(this.signUpForm));
    byId('signin-show').addEventListener('click', () => this.showCard(this.signInForm));
    this.onSubmit(this.signInForm, this.signInError, async () => {
      const err = await this.account.signIn(this.username.value.trim(), this.password.value);
      if (!err) this.password.value = '';
      return err;
    });
    this.onSubmit(this.signUpForm, this.signUpError, async () => {
      const err = await this.account.signUp(this.signUpUsername.value.trim(), this.signUpPassword.value, this.signUpEmail.value.trim());
      if (!err) this.signUpPassword.value = '';
      return err;
    });
    this.onSubmit(this.confirmForm, this.confirmError, () => this.account.confirm(this.code.value.trim()));
    this.onSubmit(this.challengeForm, this.challengeError, async () => {
      const value = this.challengeInput.type === 'password' ? this.challengeInput.value : this.challengeInput.value.trim();
      const err = await this.account.answer(value);
      if (!err) this.challengeInput.value = '';
      return err;
    });
    byId('challenge-cancel').addEventListener('click', () => void this.account.cancel());
  }

  /** Shows what the account's view needs; signedIn and checking hide the forms. */
  render(v: AccountView): void {
    this.accountBar.hidden = v.kind !== 'signedIn';
    this.accountName.textContent = v.kind === 'signedIn' ? v.username : '';
    this.view.hidden = v.kind === 'signedIn' || v.kind === 'checking';
    if (v.kind === 'signIn') {
      this.notice.textContent = v.notice ?? '';
      this.signInError.textContent = '';
      this.password.value = '';
      if (v.username) this.username.value = v.username;
      this.showCard(this.signInForm);
    } else if (v.kind === 'confirm') {
      this.confirmUsername.textContent = v.username;
      this.code.value = '';
      this.confirmError.textContent = '';
      this.showCard(this.confirmForm);
    } else if (v.kind === 'newPassword' || v.kind === 'totpCode') {
      const pw = v.kind === 'newPassword';
      this.challengeTitle.textContent = pw ? 'Choose your password' : 'Enter your code';
      this.challengeHint.textContent = pw
        ? `${v.username} signed in with a temporary password: choose one of your own.`
        : `The code your authenticator app shows for ${v.username}.`;
      this.challengeLabel.textContent = pw ? 'New password' : 'Code';
      this.challengeInput.type = pw ? 'password' : 'text';
      this.challengeInput.autocomplete = pw ? 'new-password' : 'one-time-code';
      this.challengeInput.inputMode = pw ? 'text' : 'numeric';
      this.challengeInput.value = '';
      this.challengeError.textContent = '';
      this.showCard(this.challengeForm);
    }
  }

  private showCard(card: HTMLFormElement): void {
    for (const c of [this.signInForm, this.signUpForm, this.confirmForm, this.challengeForm]) c.hidden = c !== card;
    if (card === this.signUpForm && !this.signUp) return;
    const first = card === this.signInForm && this.username.value ? this.password : card.querySelector('input');
    first?.focus();
  }

  /** Submits at most once at a time; the error, if any, goes under the form. */
  private onSubmit(form: HTMLFormElement, errorEl: HTMLElement, run: () => Promise<string | null>): void {
    const button = form.querySelector<HTMLButtonElement>('button[type="submit"]');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (button?.disabled) return;
      if (button) button.disabled = true;
      errorEl.textContent = '';
      void run()
        .then((err) => {
          errorEl.textContent = err ?? '';
        })
        .finally(() => {
          if (button) button.disabled = false;
        });
    });
  }
}
