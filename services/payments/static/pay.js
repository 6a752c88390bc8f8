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

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var amount = Math.round(parseFloat(form.amount.value) * 100);
    if (!(amount > 0)) { say("Enter the amount to pay.", true); return; }
    button.disabled = true;
    say("Working…");
    try {
      var made = await stripe.createPaymentMethod({ type: "card", card: card });
      if (made.error) { say(made.error.message || "Check the card details.", true); button.disabled = false; return; }
      var response = await fetch(data.startUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf },
        body: JSON.stringify({ attempt: data.attempt, amount_cents: amount, method: methodChosen(),
                               payment_method: made.paymentMethod.id })
      });
      var body = await response.json();
      if (!response.ok) {
        var reason = body.fields && body.fields.length ? body.fields[0].reason : body.message;
        say(reason || "The payment could not be started.", true);
        button.disabled = false;
        return;
      }
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
      say("Something went wrong; nothing was charged. Please try again.", true);
      button.disabled = false;
    }
  });
})();
