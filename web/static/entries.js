// Optional: reload the entry form as soon as another association is chosen (the "Change" button does it without JS).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  const button = select.form.querySelector("[data-autosubmit-button]");
  if (button) button.hidden = true;
  select.addEventListener("change", () => select.form.submit());
});
