/* The workflow page's step and filter editors.
 *
 * Each editor (.kf-editor, rendered by workflows/admin/editor.py's EditorWidget)
 * holds the raw JSON textarea, the field that is posted, and a form rendered by
 * django-jsonform (reactJsonForm) from an editor schema: a step's comes from its
 * action select (embedded once as #kf-action-schemas), the filters' from the widget.
 * Form -> JSON on every change of the form; JSON -> form when the JSON is edited.
 * Empty fields of the form are left out of the JSON. The exact text "" in a field is
 * Stripe's empty value, which unsets the field: the JSON holds "" (and a "" in the
 * JSON shows as "" in the form). A key the form cannot show (a reference in place of
 * a group) is shown read-only and kept as the JSON has it. Switching a step's action
 * keeps the previous action's mapping for the page's life: switching back (or Undo)
 * restores it.
 * Beside each form, a data picker lists paths from the admin's editor/paths/ view;
 * clicking one inserts it into the field that last had focus (in the filters, into
 * the path of that filter).
 * A step's "Run only if" rules (kind "condition") are the filters' rows over paths from
 * trigger. and steps.<an earlier step>.; their picker also lists the lists found, which
 * it puts into the step's For each field when that had focus last. A step that repeats
 * for each item finds item.<field> and item_index at the top of its input's picker.
 * The step's "Run only if / Repeat for each" section opens when any of it is set, and
 * its heading says what is set.
 */
(function () {
  "use strict";

  var inputSetter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
  var areaSetter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
  var UNARY = ["exists", "not_exists", "is_null", "is_not_null"];
  var MAX_SHOWN = 250;
  var EMPTY_TEXT = '""';
  var schemas = null;
  var editors = [];
  var listCount = 0;

  function actionSchemas() {
    if (schemas === null) {
      var script = document.getElementById("kf-action-schemas");
      schemas = script ? JSON.parse(script.textContent) : {};
    }
    return schemas;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function same(a, b) {
    if (Array.isArray(a)) {
      return Array.isArray(b) && a.length === b.length && a.every(function (item, i) {
        return same(item, b[i]);
      });
    }
    if (isObject(a)) {
      var keys = Object.keys(a);
      return isObject(b) && keys.length === Object.keys(b).length && keys.every(function (key) {
        return Object.prototype.hasOwnProperty.call(b, key) && same(a[key], b[key]);
      });
    }
    return a === b;
  }

  /* Whether the form of ``schema`` can show ``value``: groups hold objects, lists arrays,
   * text inputs anything else. */
  function fits(schema, value) {
    if (schema.type === "object") {
      return isObject(value) && Object.keys(value).every(function (key) {
        var sub = (schema.properties || {})[key] || schema.additionalProperties;
        return Boolean(sub) && fits(sub, value[key]);
      });
    }
    if (schema.type === "array") {
      return Array.isArray(value) && value.every(function (item) {
        return fits(schema.items, item);
      });
    }
    return !isObject(value) && !Array.isArray(value);
  }

  /* The form's data without the empty fields it fills in, unless ``before`` had them. */
  function prune(value, before) {
    var out, count = 0;
    if (Array.isArray(value)) {
      out = [];
      value.forEach(function (item, i) {
        var kept = prune(item, Array.isArray(before) ? before[i] : undefined);
        if (kept !== undefined) out.push(kept);
      });
      return out.length || (Array.isArray(before) && !before.length) ? out : undefined;
    }
    if (isObject(value)) {
      out = {};
      Object.keys(value).forEach(function (key) {
        var kept = prune(value[key], isObject(before) ? before[key] : undefined);
        if (kept !== undefined) {
          out[key] = kept;
          count += 1;
        }
      });
      return count || (isObject(before) && !Object.keys(before).length) ? out : undefined;
    }
    if (value === "" || value === null || value === undefined) {
      return before === value || (before === null && value === null) ? value : undefined;
    }
    return value;
  }

  function copy(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  /* ``value`` as the form shows it: each "" (Stripe's empty value) as the text "". */
  function toText(value) {
    if (Array.isArray(value)) return value.map(toText);
    if (isObject(value)) {
      var out = {};
      Object.keys(value).forEach(function (key) {
        out[key] = toText(value[key]);
      });
      return out;
    }
    return value === "" ? EMPTY_TEXT : value;
  }

  /* The form's text back as JSON: the text "" (spaces around allowed) is "". */
  function fromText(value) {
    if (Array.isArray(value)) return value.map(fromText);
    if (isObject(value)) {
      var out = {};
      Object.keys(value).forEach(function (key) {
        out[key] = fromText(value[key]);
      });
      return out;
    }
    return typeof value === "string" && value.trim() === EMPTY_TEXT ? "" : value;
  }

  /* ``value``'s keys in ``before``'s order, new keys last: the JSON moves as little as it can. */
  function inOrder(value, before) {
    var out = {};
    Object.keys(isObject(before) ? before : {}).forEach(function (key) {
      if (Object.prototype.hasOwnProperty.call(value, key)) out[key] = value[key];
    });
    Object.keys(value).forEach(function (key) {
      if (!Object.prototype.hasOwnProperty.call(out, key)) out[key] = value[key];
    });
    return out;
  }

  // -- the two kinds of editors --------------------------------------------------------

  /* A step's input: an object; keys whose values the form cannot show stay in the JSON. */
  var stepKind = {
    schema: function (editor) {
      var select = editor.row && editor.row.querySelector("select[name$='-action_key']");
      return select ? actionSchemas()[select.value] || null : null;
    },
    toForm: function (schema, json) {
      var data = {}, aside = {};
      if (!isObject(json)) return null;
      Object.keys(json).forEach(function (key) {
        var sub = schema.properties[key] || schema.additionalProperties;
        if (sub && fits(sub, json[key])) data[key] = toText(json[key]);
        else aside[key] = json[key];
      });
      return { data: data, aside: aside };
    },
    fromForm: function (data, before, aside) {
      var value = fromText(prune(data, toText(before)) || {});
      Object.keys(aside).forEach(function (key) {
        value[key] = aside[key];
      });
      return inOrder(value, before);
    },
    reference: function (entry) {
      return "{{ " + entry.reference + " }}";
    },
    label: function (entry) {
      return entry.reference;
    },
  };

  function valueText(value) {
    if (typeof value === "string") {
      try {
        JSON.parse(value);
      } catch (e) {
        return value;
      }
    }
    return value === undefined ? "" : JSON.stringify(value);
  }

  function textValue(text, op) {
    try {
      return JSON.parse(text);
    } catch (e) {
      if ((op === "in" || op === "not_in") && text.trim()) {
        return text.split(",").map(function (part) {
          return part.trim();
        });
      }
      return text;
    }
  }

  /* The workflow's filters: rows of path, operator and a value typed as JSON or text. */
  var filtersKind = {
    schema: function (editor) {
      return JSON.parse(editor.root.dataset.schema);
    },
    toForm: function (schema, json) {
      var plain = Array.isArray(json) && json.every(function (row) {
        return isObject(row) && Object.keys(row).every(function (key) {
          return ["path", "op", "value"].indexOf(key) > -1;
        }) && typeof (row.path === undefined ? "" : row.path) === "string";
      });
      if (!plain) return null;
      return {
        aside: {},
        data: json.map(function (row) {
          return { path: row.path || "", op: row.op || "", value: valueText(row.value) };
        }),
      };
    },
    fromForm: function (rows, before) {
      return rows.filter(function (row) {
        return row.path || row.value;
      }).map(function (row) {
        var filter = { path: row.path, op: row.op || "equals" };
        if (UNARY.indexOf(filter.op) === -1) filter.value = textValue(row.value, filter.op);
        return filter;
      });
    },
    reference: function (entry) {
      return entry.path;
    },
    label: function (entry) {
      return entry.path;
    },
    rules: true,
    hint: "Click in a filter, then on a path: it becomes that filter's path.",
  };

  /* A step's "Run only if": the filters' rows; paths from trigger. and steps.<name>. */
  var conditionKind = Object.assign({}, filtersKind, {
    hint: "Click in a rule (or in For each below), then on a path: it becomes that " +
      "rule's path (or the list to repeat for).",
  });

  var KINDS = { step: stepKind, filters: filtersKind, condition: conditionKind };

  // -- one editor ----------------------------------------------------------------------

  function Editor(root) {
    this.root = root;
    this.kind = KINDS[root.dataset.kfEditor] || stepKind;
    this.row = root.closest(".inline-related");
    this.textarea = root.querySelector("textarea");
    this.fields = root.querySelector(".kf-editor-fields");
    this.note = root.querySelector(".kf-editor-note");
    this.jsonError = root.querySelector(".kf-editor-json-error");
    this.details = root.querySelector(".kf-editor-json");
    this.search = root.querySelector(".kf-picker-search");
    this.list = root.querySelector(".kf-picker-list");
    this.hint = root.querySelector(".kf-picker-hint");
    this.form = null;
    this.aside = {};
    this.select = this.row ? this.row.querySelector("select[name$='-action_key']") : null;
    this.action = this.select ? this.select.value : "";
    this.stash = {};
    this.lists = {};
    this.lastField = null;
    this.listMode = false;
    this.forEach = this.kind === conditionKind && this.row
      ? this.row.querySelector("input[name$='-for_each']")
      : null;
    this.sources = [];
    this.timer = null;
    var self = this;
    this.fields.addEventListener("focusin", function (event) {
      if (event.target.matches("input:not([type=checkbox]):not([type=radio]), textarea")) {
        self.lastField = event.target;
        self.setListMode(false);
      }
    });
    if (this.forEach) {
      this.forEach.addEventListener("focusin", function () {
        self.lastField = self.forEach;
        self.setListMode(true);
      });
    }
    this.textarea.addEventListener("input", function () {
      clearTimeout(self.timer);
      self.timer = setTimeout(function () {
        self.mount(false);
      }, 300);
    });
    this.search.addEventListener("input", function () {
      self.showPaths();
    });
    this.list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-insert]");
      if (button) self.insert(button.dataset.insert);
    });
    if (this.kind.hint) this.hint.textContent = this.kind.hint;
    this.mount(false);
  }

  Editor.prototype.json = function () {
    var text = this.textarea.value.trim();
    if (!text) return { value: this.kind.rules ? [] : {} };
    try {
      return { value: JSON.parse(text) };
    } catch (error) {
      return { error: error.message };
    }
  };

  /* Show ``text`` in the note; ``undo``: a function, offered as an Undo button. */
  Editor.prototype.say = function (text, undo) {
    this.note.textContent = text;
    this.note.hidden = !text;
    if (undo) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "kf-editor-undo";
      button.textContent = "Undo";
      button.addEventListener("click", undo);
      this.note.appendChild(document.createTextNode(" "));
      this.note.appendChild(button);
    }
  };

  /* A read-only field for a key whose value the form cannot show as its group or list. */
  function readOnlyField(sub, key, value) {
    var help = typeof value === "string"
      ? (value === "" ? "Set to \"\" (clears it in Stripe)" : "Set by a reference") +
        "; edit it in Advanced: JSON."
      : "Set in Advanced: JSON (a value this form cannot show); edit it there.";
    return {
      type: "string",
      title: (sub && sub.title) || key,
      readOnly: true,
      help_text: help,
    };
  }

  /* (Re)build the form from the JSON; ``actionChanged`` keeps the previous action's
   * mapping aside, restores the new action's if it was chosen before, and leaves out
   * the keys the new action lacks (Undo switches back). */
  Editor.prototype.mount = function (actionChanged) {
    var schema = this.kind.schema(this);
    var parsed = this.json();
    var notes = [];
    var previous = this.action;
    var undo = null;
    this.action = this.select ? this.select.value : "";
    this.jsonError.hidden = !parsed.error;
    this.jsonError.textContent = parsed.error ? "Invalid JSON: " + parsed.error : "";
    if (this.form) {
      ReactDOM.unmountComponentAtNode(this.fields);
      this.form = null;
    }
    if (!schema) {
      this.say("Choose an action to see its fields.");
      return;
    }
    if (parsed.error) {
      this.details.open = true;
      this.say("The JSON below is not valid: fix it to see the form.");
      return;
    }
    var value = parsed.value;
    if (actionChanged && isObject(value) && previous !== this.action) {
      if (previous) this.stash[previous] = copy(value);
      var restored = this.stash[this.action];
      var changed = false;
      if (restored) {
        value = Object.assign(copy(restored), value);
        changed = !same(value, parsed.value);
      }
      var dropped = Object.keys(value).filter(function (key) {
        return !schema.properties[key] && !schema.additionalProperties;
      });
      dropped.forEach(function (key) {
        delete value[key];
      });
      if (dropped.length || changed) this.write(value);
      if (dropped.length && previous) {
        var self0 = this;
        var named = Array.prototype.filter.call(this.select.options, function (option) {
          return option.value === previous;
        })[0];
        notes.push(
          "Left out, not fields of this action: " + dropped.join(", ") + ". Choosing " +
            (named ? named.textContent.trim() : previous) +
            " again restores them (until the page is saved)."
        );
        undo = function () {
          self0.select.value = previous;
          self0.select.dispatchEvent(new Event("change", { bubbles: true }));
        };
      }
    }
    var split = this.kind.toForm(schema, value);
    if (split === null) {
      this.details.open = true;
      this.say("This JSON has a shape the form cannot show: edit it in Advanced: JSON.");
      return;
    }
    this.aside = split.aside;
    var kept = Object.keys(split.aside);
    var unknown = kept.filter(function (key) {
      return !(schema.properties || {})[key] && !schema.additionalProperties;
    });
    var shaped = kept.filter(function (key) {
      return unknown.indexOf(key) === -1;
    });
    if (unknown.length) {
      notes.push("Not fields of this action (kept in Advanced: JSON): " + unknown.join(", ") + ".");
    }
    if (shaped.length) {
      notes.push(
        "Set by a reference or \"\" in place of a group or list, shown read-only " +
          "(edit in Advanced: JSON): " + shaped.join(", ") + "."
      );
    }
    this.say(notes.join(" "), undo);
    // Keys held aside in place of a group or list show read-only, so nothing typed is lost.
    var shown = schema, data = split.data;
    if (shaped.length) {
      shown = Object.assign({}, schema, { properties: Object.assign({}, schema.properties) });
      data = Object.assign({}, split.data);
      shaped.forEach(function (key) {
        var held = split.aside[key];
        shown.properties[key] = readOnlyField(schema.properties[key], key, held);
        data[key] = typeof held === "string" ? toText(held) : JSON.stringify(held);
      });
    }
    var self = this;
    this.form = reactJsonForm.createForm({
      containerId: this.fields.id,
      dataInputId: this.root.querySelector(".kf-editor-sink").id,
      schema: shown,
      data: data,
      errorMap: {},
    });
    this.form.addEventListener("change", function (event) {
      self.formChanged(event.data);
    });
    this.form.render();
    this.decorate(shown);
  };

  Editor.prototype.write = function (value) {
    areaSetter.call(this.textarea, JSON.stringify(value, null, 2));
  };

  Editor.prototype.formChanged = function (data) {
    var before = this.json();
    var value = this.kind.fromForm(data, before.error ? undefined : before.value, this.aside);
    if (!before.error && same(value, before.value)) return;
    this.write(value);
    this.jsonError.hidden = true;
    if (this.kind === conditionKind && this.row) describeExtras(this.row, false);
  };

  /* Choices become suggestions (a datalist): any text, a reference too, stays allowed. */
  Editor.prototype.decorate = function (schema) {
    var self = this;
    if (this.observer) this.observer.disconnect();
    this.observer = new MutationObserver(function () {
      self.suggest(schema);
    });
    this.observer.observe(this.fields, { childList: true, subtree: true });
    this.suggest(schema);
  };

  Editor.prototype.suggest = function (schema) {
    var self = this;
    this.fields.querySelectorAll("input[name^='rjf']").forEach(function (input) {
      var sub = schema;
      input.name.split("\u00a7").slice(1).forEach(function (part) {
        if (!sub) return;
        if (sub.type === "array") sub = sub.items;
        else if (sub.type === "object") sub = sub.properties[part] || sub.additionalProperties;
      });
      if (!sub || !sub["x-choices"] || input.getAttribute("list")) return;
      // An id of this editor's own, free of the formset's numbering (which changes
      // when an earlier unsaved row is removed).
      var key = sub["x-choices"].join("\u0000");
      if (!self.lists[key]) self.lists[key] = "kf-choices-" + (listCount += 1);
      var id = self.lists[key];
      if (!document.getElementById(id)) {
        var list = document.createElement("datalist");
        list.id = id;
        sub["x-choices"].forEach(function (choice) {
          var option = document.createElement("option");
          option.value = choice;
          list.appendChild(option);
        });
        self.root.appendChild(list);
      }
      input.setAttribute("list", id);
    });
  };

  /* Put ``text`` into the field that last had focus, as if typed (React follows). */
  Editor.prototype.insert = function (text) {
    var field = this.lastField;
    if (!field || !document.contains(field)) {
      this.hint.textContent = "Click in a field first, then on a path.";
      this.hint.classList.add("kf-picker-hint-warn");
      return;
    }
    var whole = Boolean(this.kind.rules) || field === this.forEach;
    if (this.kind.rules && field !== this.forEach) {
      // A filter's path goes into its Path box, whichever box of the filter had focus.
      var row = (field.name || "").match(/^(rjf\u00a7\d+)\u00a7/);
      var box = row && this.fields.querySelector("input[name='" + row[1] + "\u00a7path']");
      if (box) field = box;
    }
    var start = whole ? 0 : field.selectionStart || 0;
    var end = whole ? field.value.length : field.selectionEnd || start;
    var next = field.value.slice(0, start) + text + field.value.slice(end);
    (field instanceof HTMLTextAreaElement ? areaSetter : inputSetter).call(field, next);
    field.dispatchEvent(new Event("input", { bubbles: true }));
    if (field === this.forEach) field.dispatchEvent(new Event("change", { bubbles: true }));
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
  };

  /* For each had focus (``on``): the picker offers the lists only; a rule: everything. */
  Editor.prototype.setListMode = function (on) {
    if (this.listMode === on) return;
    this.listMode = on;
    this.hint.textContent = on
      ? "Click a list: the step repeats for each of its items."
      : this.kind.hint || "Click in a field, then on a path to insert it.";
    this.hint.classList.remove("kf-picker-hint-warn");
    this.showPaths();
  };

  Editor.prototype.showPaths = function () {
    var query = this.search.value.trim().toLowerCase();
    var kind = this.kind;
    var list = this.list;
    var listMode = this.listMode;
    var shown = 0;
    list.textContent = "";
    this.sources.forEach(function (source) {
      if (listMode && !source.lists) return;
      var heading = document.createElement("li");
      heading.className = "kf-picker-source";
      heading.textContent = source.title;
      list.appendChild(heading);
      if (source.note || !source.entries.length) {
        var empty = document.createElement("li");
        empty.className = "kf-picker-empty";
        empty.textContent = source.note || source.empty;
        list.appendChild(empty);
      }
      source.entries.forEach(function (entry) {
        var label = kind.label(entry);
        if (shown >= MAX_SHOWN) return;
        if (query && (label + " " + entry.example).toLowerCase().indexOf(query) === -1) return;
        shown += 1;
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "kf-picker-item";
        button.dataset.insert = kind.reference(entry);
        button.title = "Insert " + button.dataset.insert;
        var code = document.createElement("code");
        code.textContent = label;
        var example = document.createElement("small");
        example.textContent = entry.example;
        button.appendChild(code);
        button.appendChild(example);
        item.appendChild(button);
        list.appendChild(item);
      });
    });
  };

  // -- the page ------------------------------------------------------------------------

  function stepRows() {
    return Array.prototype.filter.call(
      document.querySelectorAll(".inline-related"),
      function (row) {
        var name = row.querySelector("input[name$='-name']");
        var deleted = row.querySelector("input[name$='-DELETE']");
        return name && name.name.indexOf("__prefix__") === -1 && !(deleted && deleted.checked);
      }
    );
  }

  function stepOf(row, index) {
    var id = row.querySelector("input[name$='-id']");
    var order = row.querySelector("input[name$='-order']");
    var forEach = row.querySelector("input[name$='-for_each']");
    return {
      id: id ? id.value : "",
      name: row.querySelector("input[name$='-name']").value.trim(),
      order: order ? parseInt(order.value, 10) || 0 : 0,
      forEach: forEach ? forEach.value.trim() : "",
      index: index,
      row: row,
    };
  }

  var loading = null;

  /* Ask the paths view about the trigger and steps as the page shows them now. */
  function refreshPaths() {
    var root = document.querySelector(".kf-editor");
    if (!root) return;
    var steps = stepRows().map(stepOf);
    var params = new URLSearchParams();
    var trigger = document.getElementById("id_trigger_key");
    var custom = document.getElementById("id_custom_event_type");
    var match = window.location.pathname.match(/\/workflow\/(\d+)\/change\/$/);
    params.set("trigger_key", trigger ? trigger.value : "");
    params.set("custom_event_type", custom ? custom.value : "");
    if (match) params.set("workflow", match[1]);
    params.set("steps", JSON.stringify(steps.map(function (step) {
      return { id: step.id, name: step.name, order: step.order, for_each: step.forEach };
    })));
    var url = root.dataset.pathsUrl + "?" + params.toString();
    if (loading === url) return;
    loading = url;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : Promise.reject(response.status);
      })
      .then(function (paths) {
        if (loading !== url) return;
        editors.forEach(function (editor) {
          showSources(editor, paths, steps);
        });
      })
      .catch(function (status) {
        editors.forEach(function (editor) {
          editor.sources = [{ title: "Data", entries: [], empty: "Paths unavailable (" + status + ")." }];
          editor.showPaths();
        });
      });
  }

  /* The steps that run before ``editor``'s step, with what the paths view found of them. */
  function earlierSteps(editor, paths, steps) {
    var mine = steps.filter(function (step) {
      return step.row === editor.row;
    })[0];
    var found = [];
    steps.forEach(function (step, i) {
      var earlier = mine && step.row !== editor.row && (
        step.order < mine.order || (step.order === mine.order && step.index < mine.index));
      if (earlier && step.name) {
        found.push({ step: step, paths: paths.steps[i] || { paths: [], lists: [], source: "" } });
      }
    });
    return { mine: mine && (paths.steps[mine.index] || null), earlier: found };
  }

  function stepTitle(step, found) {
    return "Step " + step.name + (found.source ? " (from " + found.source + ")" : "");
  }

  function itemCount(count) {
    return count === 1 ? "1 item" : count + " items";
  }

  /* A list entry of the condition's picker: its full path, and its length in the sample. */
  function listEntries(prefix, lists) {
    return (lists || []).map(function (entry) {
      return {
        path: prefix + (entry.path ? "." + entry.path : ""),
        example: itemCount(entry.count) + " in the sample",
      };
    });
  }

  function showSources(editor, paths, steps) {
    var trigger = {
      title: "Trigger: sample event",
      entries: paths.trigger,
      empty: "No sample event for this trigger.",
    };
    var sources = [];
    var around = editor.kind === filtersKind ? null : earlierSteps(editor, paths, steps);
    if (editor.kind === stepKind) {
      around.earlier.forEach(function (found) {
        sources.push({
          title: stepTitle(found.step, found.paths),
          entries: found.paths.paths,
          empty: "Its fields appear here after Test a step.",
        });
      });
      var item = around.mine && around.mine.item;
      // The closest step first, the trigger's long list last; the item above them all.
      sources = sources.reverse();
      if (item) {
        sources.unshift({
          title: "Each item of " + item.list +
            (item.count === null ? "" : " (" + itemCount(item.count) + " in the sample)"),
          entries: item.paths,
          note: item.note,
          empty: "",
        });
      }
      editor.sources = sources.concat([trigger]);
    } else if (editor.kind === conditionKind) {
      var lists = listEntries("trigger", paths.trigger_lists);
      around.earlier.forEach(function (found) {
        var prefix = "steps." + found.step.name;
        sources.push({
          title: stepTitle(found.step, found.paths),
          entries: found.paths.paths.map(function (entry) {
            return { path: prefix + (entry.path ? "." + entry.path : ""), example: entry.example };
          }),
          empty: "Its fields appear here after Test a step.",
        });
        lists = listEntries(prefix, found.paths.lists).concat(lists);
      });
      // The closest step first, then the trigger; the lists (For each's) last.
      editor.sources = sources.reverse().concat([{
        title: trigger.title,
        entries: paths.trigger.map(function (entry) {
          return { path: "trigger." + entry.path, example: entry.example };
        }),
        empty: trigger.empty,
      }, {
        title: "Lists (to repeat for each item)",
        entries: lists,
        empty: "No list in the sample event or the earlier steps' outputs.",
        lists: true,
      }]);
    } else {
      editor.sources = [trigger];
    }
    editor.showPaths();
  }

  // -- a step's "Run only if / Repeat for each" section ---------------------------------

  function rulesIn(row) {
    var area = row.querySelector("textarea[name$='-condition']");
    try {
      var rules = JSON.parse(area ? area.value || "[]" : "[]");
      return Array.isArray(rules) ? rules.length : 1;
    } catch (e) {
      return 1; // JSON being typed: something is set
    }
  }

  /* The section's heading says what is set: "Only if all 2 rules hold · For each item of ...". */
  function describeExtras(row, openIfSet) {
    var section = row.querySelector("fieldset.kf-step-extras");
    if (!section) return;
    // Collapsible: a <details> of its own; shown open (a field has an error): a heading.
    var details = section.querySelector(":scope > details");
    var heading = details
      ? details.querySelector(":scope > summary")
      : section.querySelector(":scope > .fieldset-heading");
    if (!heading) return;
    var state = heading.querySelector(".kf-extras-state");
    if (!state) {
      state = document.createElement("span");
      state.className = "kf-extras-state";
      heading.appendChild(state);
    }
    var rules = rulesIn(row);
    var match = row.querySelector("select[name$='-condition_match']");
    var forEach = row.querySelector("input[name$='-for_each']");
    var parts = [];
    if (rules) {
      parts.push(rules === 1 ? "Only if its rule holds" : "Only if " +
        (match && match.value === "any" ? "any" : "all") + " of " + rules + " rules hold");
    }
    if (forEach && forEach.value.trim()) parts.push("For each item of " + forEach.value.trim());
    state.textContent = parts.length ? parts.join(" · ") : "Always runs, once";
    state.classList.toggle("kf-extras-set", parts.length > 0);
    if (openIfSet && parts.length && details) details.open = true;
  }

  function describeAllExtras() {
    stepRows().forEach(function (row) {
      describeExtras(row, true);
    });
  }

  var refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshPaths, 250);
  }

  function start(root) {
    var textarea = root.querySelector("textarea");
    if (!textarea || textarea.id.indexOf("__prefix__") > -1 || root.dataset.kfStarted) return;
    root.dataset.kfStarted = "1";
    editors.push(new Editor(root));
  }

  function startAll() {
    document.querySelectorAll(".kf-editor").forEach(start);
    describeAllExtras();
    refreshSoon();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("select[name$='-action_key']")) {
      editors.forEach(function (editor) {
        if (editor.kind === stepKind && editor.row && editor.row.contains(target)) {
          editor.mount(true);
        }
      });
    }
    if (target.matches("#id_trigger_key, #id_custom_event_type, input[name$='-name'], " +
                       "input[name$='-order'], input[name$='-DELETE'], " +
                       "input[name$='-for_each']")) {
      refreshSoon();
    }
  });
  document.addEventListener("input", function (event) {
    var row = event.target.closest && event.target.closest(".inline-related");
    if (row && event.target.matches("textarea[name$='-condition'], " +
                                    "input[name$='-for_each'], select[name$='-condition_match']")) {
      describeExtras(row, false);
    }
  });
  document.addEventListener("change", function (event) {
    var row = event.target.closest && event.target.closest(".inline-related");
    if (row && event.target.matches("select[name$='-condition_match']")) {
      describeExtras(row, false);
    }
  });
  document.addEventListener("formset:added", startAll);
  document.addEventListener("formset:removed", refreshSoon);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
