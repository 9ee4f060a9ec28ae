// The signed-in user's name and the sign-out control in the top bar (hidden on loopback
// without accounts, where the local user is signed in by itself and cannot sign out).

import { api } from "./api.js";

async function showAccount() {
  const box = document.getElementById("account");
  if (!box) return;
  let me;
  try {
    me = await api.me();
  } catch {
    return; // a 401 already sent the browser to /login
  }
  if (!me.accounts) return;
  document.getElementById("account-name").textContent = me.username;
  box.hidden = false;
  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await api.signOut();
    } finally {
      window.location.assign("/login");
    }
  });
}

showAccount();
