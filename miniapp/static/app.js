/* crmbot mini-app: the few interactions the server-rendered pages need. No framework: each
   block below wires one kind of element by its data- attribute. Every write is a JSON call to
   /api/ with the X-Requested-With header the server requires on state-changing calls. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  var toastTimer;
  function toast(text) {
    var box = $("#toast");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, 2200);
  }

  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin",
                 headers: { "X-Requested-With": "crmbot", "Accept": "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error(data.error || "网络不稳定，请稍后重试");
          err.data = data; err.status = resp.status;
          throw err;
        }
        return data;
      });
    }, function () { throw new Error("网络不稳定，请稍后重试"); });
  }

  /* Run a call with the button disabled meanwhile, so a double tap sends once. */
  function busy(button, promise) {
    if (button) { button.disabled = true; button.classList.add("busy"); }
    return promise.then(function (data) {
      if (button) { button.classList.remove("busy"); button.disabled = false; }
      return data;
    }, function (err) {
      if (button) { button.classList.remove("busy"); button.disabled = false; }
      if (!(err.status === 409 && err.data && err.data.matches)) { toast(err.message); }  // the sheet says it
      throw err;
    });
  }

  function customerUrl(id) { return "/app/customers/" + id; }
  function reloadSoon(text) { if (text) { toast(text); } setTimeout(function () { location.reload(); }, 400); }
  function removeRow(el) { var row = el.closest(".cell, .card"); if (row) { row.remove(); } }

  /* ---- 可能重复 (409 with matches): show who already has it, open one, or create anyway with one
     of the playbook's reasons (the manager reviews it). `retry(reason)` repeats the same write. */
  function offerDuplicates(err, retry) {
    var data = err && err.data;
    if (!err || err.status !== 409 || !data || !data.matches || !data.matches.length) { return false; }
    var old = $("#dup-sheet");
    if (old) { old.remove(); }
    var sheet = document.createElement("section");
    sheet.id = "dup-sheet"; sheet.className = "group dup-sheet"; sheet.setAttribute("role", "dialog");
    var head = document.createElement("div"); head.className = "card-hd"; head.textContent = "可能已有这个客户";
    sheet.appendChild(head);
    data.matches.slice(0, 5).forEach(function (m) {
      var row = document.createElement("a"); row.className = "cell link"; row.href = customerUrl(m.customer_id);
      var bd = document.createElement("div"); bd.className = "cell-bd";
      var t = document.createElement("div"); t.className = "title"; t.textContent = m.name;
      var sub = document.createElement("div"); sub.className = "sub";
      sub.textContent = "负责人：" + m.owner + (m.reasons && m.reasons.length ? " · " + m.reasons.join("、") : "");
      bd.appendChild(t); bd.appendChild(sub); row.appendChild(bd); sheet.appendChild(row);
    });
    if (data.reasons && data.reasons.length) {
      var ask = document.createElement("p"); ask.className = "sub";
      ask.textContent = "确认不是同一个客户？选择原因后仍然创建（经理会复核）：";
      sheet.appendChild(ask);
      var chips = document.createElement("div"); chips.className = "chips";
      data.reasons.forEach(function (reason) {
        var chip = document.createElement("button"); chip.type = "button"; chip.className = "chip";
        chip.textContent = reason;
        chip.addEventListener("click", function () { sheet.remove(); retry(reason); });
        chips.appendChild(chip);
      });
      sheet.appendChild(chips);
    }
    var cancel = document.createElement("button"); cancel.type = "button"; cancel.className = "btn btn-default";
    cancel.textContent = "取消"; cancel.addEventListener("click", function () { sheet.remove(); });
    sheet.appendChild(cancel);
    (document.querySelector("main") || document.body).appendChild(sheet);
    sheet.scrollIntoView({ block: "nearest" });
    return true;
  }

  /* ---- generic buttons: data-post="/api/..." [data-body] [data-confirm] data-then=... */
  $$("[data-post]").forEach(function (button) {
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) { return; }
      var body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
      var send = function (reason) {
        if (reason) { body.duplicate_reason = reason; }
        return busy(button, api("POST", button.dataset.post, body));
      };
      var answered = function (data) {
        var then = button.dataset.then;
        if (then === "remove") { toast("已完成"); removeRow(button); }
        else if (then === "coached") { toast("已加入你的待办"); button.textContent = "已安排"; button.disabled = true; }
        else if (then === "customer" && data.customer_id) { location.href = customerUrl(data.customer_id); }
        else if (then === "draft-done") {
          toast("已确认");
          if (data.result_customer_id) { location.href = customerUrl(data.result_customer_id); } else { removeRow(button); }
        } else { reloadSoon("已保存"); }
      };
      send().then(answered, function (err) {
        offerDuplicates(err, function (reason) { send(reason).then(answered, function () {}); });
      });
    });
  });

  /* ---- one-tap follow-up */
  $$("form[data-followup]").forEach(function (form) {
    var reasonsBox = $("[data-reasons-box]", form);
    var note = form.elements.note;
    var counter = $("[data-counter]", form);
    var max = parseInt(note.dataset.max, 10);
    var rule = $("[data-note-rule]", form);
    var pauseReason = null;

    function showReasons() {
      var pressed = $$(".chip[data-reasons][aria-pressed=true]", form);
      $$(".chip", reasonsBox).forEach(function (c) { c.remove(); });
      pauseReason = null;
      reasonsBox.hidden = pressed.length === 0;
      pressed.forEach(function (chip) {
        chip.dataset.reasons.split("|").forEach(function (reason) {
          var b = document.createElement("button");
          b.type = "button"; b.className = "chip"; b.textContent = reason; b.dataset.reason = reason;
          b.setAttribute("aria-pressed", "false");
          b.addEventListener("click", function () {
            $$(".chip", reasonsBox).forEach(function (o) { o.setAttribute("aria-pressed", "false"); });
            b.setAttribute("aria-pressed", "true");
            pauseReason = reason;
          });
          reasonsBox.appendChild(b);
        });
      });
    }
    $$(".chip[data-tag]", form).forEach(function (chip) {
      chip.addEventListener("click", function () {
        chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
        if (chip.dataset.reasons) { showReasons(); }
      });
    });
    function count() {
      var n = Array.from(note.value).length;
      counter.textContent = n + "/" + max;
      counter.classList.toggle("full", n > max);
      rule.hidden = n <= max;   // over the limit: nothing is cut, the rule says what happens
    }
    note.addEventListener("input", count);
    count();

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var tags = $$(".chip[data-tag][aria-pressed=true]", form).map(function (c) { return c.dataset.tag; });
      if (!tags.length && !note.value.trim()) { toast("请至少选择一个标签或写一句备注"); return; }
      var body = { tags: tags, note: note.value, next_followup: form.elements.next_followup.value,
                   pause_reason: pauseReason, channel: form.dataset.channel, request_id: form.dataset.request };
      busy($("[data-save]", form), api("POST", "/api/customers/" + form.dataset.customer + "/followups", body))
        .then(function (res) { reloadSoon(res && res.note_kept ? "跟进已保存：" + res.note_kept : "跟进已保存"); },
              function () {});
    });
  });

  /* ---- 待补全: fill in the identifier */
  $$("form[data-identifier]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      $$("input", form).forEach(function (i) { body[i.name] = i.value; });
      busy($("button", form), api("POST", "/api/customers/" + form.dataset.identifier + "/identifier", body))
        .then(function () { reloadSoon("资料已补全"); }, function () {});
    });
  });

  /* ---- opportunities: checklist gates the 推进 button */
  $$("[data-checklist]").forEach(function (box) {
    var oppId = box.dataset.checklist, stage = box.dataset.stage;
    var advance = $("[data-advance]", box);
    var saving = 0;  /* ticks still on their way: 推进 waits for the server to have them all */
    function refresh() {
      advance.disabled = saving > 0 || $$("input[type=checkbox]", box).some(function (c) { return !c.checked; });
    }
    $$("input[type=checkbox]", box).forEach(function (check) {
      check.addEventListener("change", function () {
        saving += 1;
        refresh();
        api("POST", "/api/opportunities/" + oppId + "/checklist",
            { stage: stage, item: check.dataset.item, checked: check.checked })
          .then(function () { saving -= 1; refresh(); },
                function (err) { saving -= 1; check.checked = !check.checked; refresh(); toast(err.message); });
      });
    });
    advance.addEventListener("click", function (ev) {
      ev.preventDefault();
      busy(advance, api("POST", "/api/opportunities/" + oppId + "/stage", { stage: advance.dataset.stage }))
        .then(function (data) { reloadSoon("已推进到“" + data.stage_label + "”"); }, function () { refresh(); });
    });
  });
  /* 赢单's own checklist and after-handshake steps: each tick saves at once */
  $$("[data-steps]").forEach(function (box) {
    $$("input[type=checkbox]", box).forEach(function (check) {
      check.addEventListener("change", function () {
        api("POST", "/api/opportunities/" + box.dataset.steps + "/checklist",
            { stage: box.dataset.stage, item: check.dataset.item, checked: check.checked })
          .then(function () { toast("已保存"); }, function (err) { check.checked = !check.checked; toast(err.message); });
      });
    });
  });
  /* small deal forms (申请折扣, 申请跳过, 赢单, 丢单): the named fields as a JSON body */
  $$("form[data-api]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      $$("input, select", form).forEach(function (i) { if (i.name) { body[i.name] = i.value; } });
      busy($("button[type=submit]", form), api("POST", form.dataset.api, body))
        .then(function () { reloadSoon(form.dataset.done); }, function () {});
    });
  });
  $$("[data-save-amount]").forEach(function (button) {
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      var input = $("[data-amount='" + button.dataset.saveAmount + "']");
      busy(button, api("POST", "/api/opportunities/" + button.dataset.saveAmount, { amount: input.value }))
        .then(function () { toast("金额已保存"); }, function () {});
    });
  });
  $$("form[data-new-opp]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      busy($("button", form), api("POST", "/api/customers/" + form.dataset.newOpp + "/opportunities",
                                   { name: form.elements.name.value }))
        .then(function () { reloadSoon("商机已创建"); }, function () {});
    });
  });

  /* ---- capture drafts: 编辑 unlocks the fields, a second tap saves them */
  $$("[data-edit-draft]").forEach(function (button) {
    var id = button.dataset.editDraft;
    var form = $("[data-draft-form='" + id + "']");
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      var inputs = $$("input, select", form);
      if (button.dataset.editing !== "1") {
        inputs.forEach(function (i) { i.readOnly = false; i.disabled = false; });
        form.classList.add("editing");
        if (inputs[0]) { inputs[0].focus(); }
        button.dataset.editing = "1"; button.textContent = "保存修改";
        return;
      }
      var fields = {};
      inputs.forEach(function (i) { fields[i.name] = i.value.trim() || null; });
      busy(button, api("POST", "/api/drafts/" + id, { fields: fields })).then(function () {
        inputs.forEach(function (i) { if (i.tagName === "SELECT") { i.disabled = true; } else { i.readOnly = true; } });
        button.dataset.editing = ""; button.textContent = "编辑";
        inputs.forEach(function (i) { i.closest(".field").classList.toggle("blank", !i.value.trim()); });
        form.classList.remove("editing");
        toast("已保存修改");
      }, function () {});
    });
  });

  /* ---- sidebar: find the chat's customer, link it, or create it */
  var sidebar = $("#sidebar");
  if (sidebar) {
    var external = sidebar.dataset.external, platform = sidebar.dataset.platform, token = sidebar.dataset.token;
    var search = $("#link-search"), results = $("#link-results"), timer;
    /* a group chat is named by the bot's signed token, a WeCom contact by its id */
    var chat = function () { return token ? { chat_token: token } : { external_userid: external, platform: platform }; };
    var link = function (customerId, button) {
      var body = chat(); body.customer_id = customerId;
      busy(button, api("POST", "/api/links", body))
        .then(function () { reloadSoon("已关联"); }, function () {});
    };
    var render = function (items) {
      results.textContent = "";
      if (!items.length) {
        var p = document.createElement("p"); p.className = "empty"; p.textContent = "没有找到，可在下方新建";
        results.appendChild(p); return;
      }
      items.forEach(function (c) {
        var row = document.createElement("div"); row.className = "cell";
        var bd = document.createElement("div"); bd.className = "cell-bd";
        var t = document.createElement("div"); t.className = "title"; t.textContent = c.name;
        var s = document.createElement("div"); s.className = "sub";
        s.textContent = c.kind_label + " · 负责人 " + c.owner + (c.identifier_missing ? " · 待补全" : "");
        var b = document.createElement("button"); b.className = "btn btn-mini btn-primary"; b.textContent = "关联";
        b.addEventListener("click", function () { link(c.id, b); });
        bd.appendChild(t); bd.appendChild(s); row.appendChild(bd); row.appendChild(b); results.appendChild(row);
      });
    };
    if (search) {
      search.addEventListener("input", function () {
        clearTimeout(timer);
        var q = search.value.trim();
        if (!q) { results.textContent = ""; return; }
        timer = setTimeout(function () {
          api("GET", "/api/customers?per_page=10&q=" + encodeURIComponent(q))
            .then(function (data) { if (search.value.trim() === q) { render(data.items); } },
                  function (err) { toast(err.message); });
        }, 250);
      });
    }
    var create = $("form[data-create-customer]");
    if (create) {
      $$("input[name=kind]", create).forEach(function (radio) {
        radio.addEventListener("change", function () {  /* a person's identifier is the mobile */
          $$(".company-only", create).forEach(function (f) { f.hidden = radio.value !== "company"; });
        });
      });
      create.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var body = chat();
        $$("input", create).forEach(function (i) { if (i.type !== "radio" || i.checked) { body[i.name] = i.value; } });
        var send = function () { return busy($("button[type=submit]", create), api("POST", "/api/customers", body)); };
        var done = function () { reloadSoon("已新建并关联"); };
        send().then(done, function (err) {
          offerDuplicates(err, function (reason) { body.duplicate_reason = reason; send().then(done, function () {}); });
        });
      });
    }
    if (!external && /wxwork/i.test(navigator.userAgent)) { wecomContact(sidebar); }
  }

  /* Load a vendored SDK on demand (only inside the client that needs it). */
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = src; tag.onload = resolve;
      tag.onerror = function () { reject(new Error("无法加载企业微信/钉钉组件，请检查网络")); };
      document.head.appendChild(tag);
    });
  }

  /* Inside WeCom: sign this page (@wecom/jssdk asks for both signatures), then ask the client
     which customer the chat is with and reload with it. */
  function wecomContact(box) {
    var status = $("#sidebar-status");
    var fail = function (err) { if (status) { status.textContent = (err && (err.message || err.errMsg)) || "无法识别聊天对象：请在单聊客户的侧边栏打开"; } };
    loadScript(box.dataset.wecomSdk).then(function () {
      var signed = api("GET", "/api/wecom/jsapi-config?url=" + encodeURIComponent(location.href.split("#")[0]));
      var pick = function (c) { return { timestamp: c.timestamp, nonceStr: c.nonceStr, signature: c.signature }; };
      window.ww.register({
        corpId: box.dataset.corp, agentId: Number(box.dataset.agent), jsApiList: ["getCurExternalContact"],
        getConfigSignature: function () { return signed.then(function (c) { return pick(c.config); }); },
        getAgentConfigSignature: function () { return signed.then(function (c) { return pick(c.agentConfig); }); }
      });
      return window.ww.getCurExternalContact();
    }).then(function (res) {
      location.replace("/app/sidebar?external_userid=" + encodeURIComponent(res.userId));
    }, fail);
  }

  /* ---- entry page: start the platform's silent login */
  var welcome = $("#welcome");
  if (welcome) {
    var next = welcome.dataset.next, ua = navigator.userAgent, say = $("#welcome-status");
    if (/wxwork/i.test(ua)) {
      say.textContent = "正在登录…";
      location.replace("/app/login/wecom?next=" + encodeURIComponent(next));
    } else if (/DingTalk/i.test(ua)) {
      say.textContent = "正在登录…";
      loadScript(welcome.dataset.ddSdk).then(function () {
        return window.dd.requestAuthCode({ corpId: welcome.dataset.ddCorp, clientId: welcome.dataset.ddClient });
      }).then(function (r) {
        return api("POST", "/app/login/dingtalk", { code: r.code || r.authCode, next: next });
      }).then(function (data) { location.replace(data.next); },
              function (err) { say.textContent = (err && err.message) || "钉钉登录失败，请关闭页面后重新打开"; });
    }
  }

  /* A marker tests and the page benchmark wait for: everything above is wired. */
  document.documentElement.setAttribute("data-ready", "1");
  if (window.performance && performance.mark) { performance.mark("crmbot-ready"); }
})();
