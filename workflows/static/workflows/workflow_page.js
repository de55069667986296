/* The workflow's admin page: only the chosen trigger kind's fields, and the sample's filter.

   Fields of another trigger kind are hidden and disabled (a disabled field is not
   posted, so it is saved empty; the server refuses a value in one). The kinds and
   their fields come from the page ("workflow-trigger-fields", Workflow.TRIGGER_FIELDS).
*/
(function () {
  "use strict";

  function triggerFields() {
    const config = document.getElementById("workflow-trigger-fields");
    const select = document.getElementById("id_trigger_key");
    if (!config || !select) {
      return;
    }
    const { kinds, keys } = JSON.parse(config.textContent);
    const names = [...new Set(Object.values(kinds).flat())];
    function show() {
      const kind = select.value ? keys[select.value] || "catalog" : null;
      const wanted = kind ? kinds[kind] : [];
      for (const name of names) {
        const row = document.querySelector(".form-row.field-" + name);
        if (!row) {
          continue;
        }
        const on = wanted.includes(name);
        row.hidden = !on;
        for (const input of row.querySelectorAll("input, select, textarea")) {
          input.disabled = !on;
        }
      }
    }
    select.addEventListener("change", show);
    show();
  }

  function sampleFilter() {
    const box = document.getElementById("sample-filter");
    const table = document.getElementById("sample-rows");
    const count = document.getElementById("sample-filter-count");
    if (!box || !table) {
      return;
    }
    const rows = Array.from(table.tBodies[0].rows);
    const texts = rows.map((row) => row.textContent.toLowerCase());
    function narrow() {
      const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      rows.forEach((row, index) => {
        const match = words.every((word) => texts[index].includes(word));
        row.hidden = !match;
        shown += match ? 1 : 0;
      });
      count.textContent = words.length ? shown + " of " + rows.length + " fields" : "";
    }
    box.addEventListener("input", narrow);
    // Enter in the filter must not submit the workflow's form.
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
      }
    });
    narrow();
  }

  document.addEventListener("DOMContentLoaded", () => {
    triggerFields();
    sampleFilter();
  });
})();
