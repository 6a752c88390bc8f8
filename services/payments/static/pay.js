// The pay page: ask the server for a PaymentIntent (it decides the amount), confirm it with
// Stripe.js, then show the result. No other script, no third-party assets but Stripe.js.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }
  var data = form.dataset;
  var message = document.getElementById("pay-message");
  var button = document.getElementById("pay-button");
  var stripe = window.Stripe ? window.Stripe(data.publishableKey) : null;
  var card = null;
  if (stripe && document.getElementById("card-element")) {
    card = stripe.elements().create("card");
    card.mount("#card-element");
  }

  function say(text, bad) {
    message.textContent = text;
    message.className = bad ? "message bad" : "message";
  }

  function methodChosen() {
    var checked = form.querySelector("input[name=method]:checked");
    return checked ? checked.value : data.defaultMethod;
  }

  form.querySelectorAll("input[name=method]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      var ach = methodChosen() === "ach";
      var cardFields = document.getElementById("card-fields");
      var achFields = document.getElementById("ach-fields");
      if (cardFields) { cardFields.hidden = ach; }
      if (achFields) { achFields.hidden = !ach; }
    });
  });

  function request(body) { return post(data.startUrl, body); }

  async function post(url, body) {
    var response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf },
      body: JSON.stringify(body)
    });
    return { ok: response.ok, body: await response.json() };
  }

  function refusal(body) {
    var reason = body.fields && body.fields.length ? body.fields[0].reason : body.message;
    return reason || "The payment could not be started.";
  }

  async function payByBank(amount) {
    var result = await request({
      attempt: data.attempt, amount_cents: amount, method: "ach",
      mandate_accepted: form.mandate.checked,
      bank: { account_holder_name: form.holder.value, routing_number: form.routing.value.trim(),
              account_number: form.account.value.trim() }
    });
    if (!result.ok) { say(refusal(result.body), true); button.disabled = false; return; }
    say("Thank you! Your bank payment has started; it takes a few business days to clear.");
    form.dataset.paid = "pending";
  }

  form.querySelectorAll("button.saved-card").forEach(function (saved) {
    saved.addEventListener("click", async function () {
      var amount = Math.round(parseFloat(form.amount.value) * 100);
      if (!(amount > 0)) { say("Enter the amount to pay.", true); return; }
      saved.disabled = true;
      say("Working…");
      try {
        var started = await request({ attempt: data.attempt, amount_cents: amount, method: "card",
                                      saved_card: saved.dataset.card });
        if (!started.ok) { say(refusal(started.body), true); saved.disabled = false; return; }
        say("Thank you! Your payment of " + (amount / 100).toFixed(2) + " was received.");
      } catch (error) {
        console.error("pay page:", error);
        say("Something went wrong; nothing was charged. Please try again.", true);
        saved.disabled = false;
      }
    });
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var amount = Math.round(parseFloat(form.amount.value) * 100);
    if (!(amount > 0)) { say("Enter the amount to pay.", true); return; }
    button.disabled = true;
    say("Working…");
    if (methodChosen() === "ach") {
      try { await payByBank(amount); } catch (error) {
        say("Something went wrong; nothing was debited. Please try again.", true);
        button.disabled = false;
      }
      return;
    }
    try {
      var setup = await post(data.setupUrl, { attempt: data.attempt });
      if (!setup.ok) { say(refusal(setup.body), true); button.disabled = false; return; }
      var confirmed = await stripe.confirmCardSetup(setup.body.client_secret,
                                                   { payment_method: { card: card } });
      if (confirmed.error) {
        say(confirmed.error.message || "Check the card details.", true);
        button.disabled = false;
        return;
      }
      var made = { paymentMethod: { id: confirmed.setupIntent.payment_method } };
      var started = await request({ attempt: data.attempt, amount_cents: amount, method: "card",
                                    payment_method: made.paymentMethod.id,
                                    save_card: !!(form.save_card && form.save_card.checked) });
      var body = started.body;
      if (!started.ok) { say(refusal(body), true); button.disabled = false; return; }
      if (body.status === "requires_action") {
        var result = await stripe.confirmCardPayment(body.client_secret);
        if (result.error) {
          say(result.error.message || "The card was not authenticated.", true);
          button.disabled = false;
          return;
        }
      }
      say("Thank you! Your payment of " + (amount / 100).toFixed(2) + " was received.");
      form.dataset.paid = "true";
    } catch (error) {
      console.error("pay page:", error);
      say("Something went wrong; nothing was charged. Please try again.", true);
      button.disabled = false;
    }
  });
})();
