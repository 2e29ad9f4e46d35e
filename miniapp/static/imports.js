/* The 导入导出 page: upload → confirm the column mapping → dry run (table + result sheet) → import,
   with a progress view polling /api/imports/<id>. No framework, like app.js. */
(function () {
  "use strict";
  var $ = function (sel) { return document.querySelector(sel); };
  var meta = JSON.parse($("#import-fields").textContent);
  var job = null;

  function toast(text) {
    var box = $("#toast");
    box.textContent = text; box.hidden = false;
    setTimeout(function () { box.hidden = true; }, 2600);
  }

  function call(method, url, body, isForm) {
    var opts = { method: method, credentials: "same-origin",
                 headers: { "X-Requested-With": "crmbot", "Accept": "application/json" } };
    if (isForm) { opts.body = body; }
    else if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) { throw new Error(data.error || "网络不稳定，请稍后重试"); }
        return data;
      });
    }, function () { throw new Error("网络不稳定，请稍后重试"); });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function renderMapping() {
    var box = $("#mapping-sheets");
    box.textContent = "";
    job.sheets.forEach(function (sheet, si) {
      var card = el("div", { "class": "card", "data-sheet": sheet.name });
      card.appendChild(el("div", { "class": "card-hd" }, "工作表“" + sheet.name + "”" +
                          (sheet.kind ? "（表头在第" + sheet.header_row + "行）" : "")));
      var kind = el("select", { "class": "input sheet-kind", "aria-label": "表类型" });
      kind.appendChild(el("option", { value: "" }, "不导入"));
      Object.keys(meta.kinds).forEach(function (k) {
        var opt = el("option", { value: k }, meta.kinds[k]);
        if (k === sheet.kind) { opt.selected = true; }
        kind.appendChild(opt);
      });
      card.appendChild(kind);
      var cols = el("div", { "class": "columns" });
      function fillColumns() {
        cols.textContent = "";
        var fields = meta.fields[kind.value] || [];
        sheet.headers.forEach(function (header, i) {
          if (!header) { return; }
          var row = el("label", { "class": "map-row" });
          row.appendChild(el("span", {}, header));
          var select = el("select", { "class": "input", "data-col": String(i), "aria-label": header });
          select.appendChild(el("option", { value: "" }, "（不导入）"));
          fields.forEach(function (f) {
            var opt = el("option", { value: f.key }, f.label);
            if (sheet.columns[String(i)] === f.key) { opt.selected = true; }
            select.appendChild(opt);
          });
          row.appendChild(select);
          cols.appendChild(row);
        });
      }
      kind.addEventListener("change", function () { sheet.kind = kind.value || null; fillColumns(); });
      fillColumns();
      card.appendChild(cols);
      box.appendChild(card);
    });
    $("#mapping").hidden = false;
  }

  function chosenPlan() {
    var sheets = [];
    document.querySelectorAll("#mapping-sheets [data-sheet]").forEach(function (card) {
      var columns = {};
      card.querySelectorAll("select[data-col]").forEach(function (s) { if (s.value) { columns[s.dataset.col] = s.value; } });
      sheets.push({ name: card.dataset.sheet, kind: card.querySelector(".sheet-kind").value || null, columns: columns });
    });
    return { sheets: sheets };
  }

  function showProgress(data) {
    $("#progress").hidden = false;
    $("#progress-title").textContent = data.dry_run ? "试导入中" : "导入中";
    var total = Math.max(data.rows_total, 1);
    $("#progress-bar").value = Math.min(100, Math.round(data.rows_done * 100 / total));
    $("#progress-text").textContent = "已处理 " + data.rows_done + " / 约 " + data.rows_total + " 行";
  }

  function showReport(data) {
    var s = data.summary;
    $("#progress-bar").value = 100;
    $("#progress-title").textContent = data.dry_run ? "试导入完成" : "导入完成";
    $("#report").hidden = false;
    $("#report-title").textContent = data.dry_run ? "3. 试导入结果（未写入任何数据）" : "导入完成";
    var counts = $("#report-counts"); counts.textContent = "";
    Object.keys(s.counts).forEach(function (k) {
      if (s.counts[k]) { counts.appendChild(el("span", { "class": "chip", "data-status": k }, s.labels[k] + " " + s.counts[k])); }
    });
    var unmapped = $("#report-unmapped"); unmapped.textContent = "";
    Object.keys(s.unmapped).forEach(function (cat) {
      var items = Object.keys(s.unmapped[cat]).map(function (v) { return v + "×" + s.unmapped[cat][v]; });
      unmapped.appendChild(el("p", { "class": "sub" }, "术语表中没有的" + (s.term_labels[cat] || cat) + "：" + items.join("，")));
    });
    var owners = Object.keys(s.unknown_owners);
    if (owners.length) {
      unmapped.appendChild(el("p", { "class": "sub warn" }, "系统中没有的负责人：" +
        owners.map(function (o) { return o + "×" + s.unknown_owners[o]; }).join("，")));
    }
    var body = $("#report-table tbody"); body.textContent = "";
    s.preview.forEach(function (r) {
      var tr = el("tr", { "class": ["new", "imported", "imported_before"].indexOf(r.status) < 0 ? "bad" : "",
                          "data-status": r.status });
      tr.appendChild(el("td", {}, r.sheet)); tr.appendChild(el("td", {}, String(r.row)));
      tr.appendChild(el("td", {}, r.result)); tr.appendChild(el("td", {}, r.values.filter(Boolean).join(" | ")));
      body.appendChild(tr);
    });
    $("#report-download").href = "/api/imports/" + data.id + "/result.xlsx";
    $("#import-run").hidden = !data.dry_run;
  }

  function poll() {
    call("GET", "/api/imports/" + job.id).then(function (data) {
      if (data.stalled) {
        showProgress(data);
        $("#progress-title").textContent = "导入中断";
        var again = $("#import-run"); again.textContent = "继续" + (data.dry_run ? "试导入" : "导入");
        again.dataset.mode = data.dry_run ? "dry-run" : "run"; again.hidden = false;
        $("#report").hidden = false;
      } else if (data.status === "queued" || data.status === "running") {
        showProgress(data);
        setTimeout(poll, 800);
      } else if (data.status === "failed") {
        $("#progress-title").textContent = "未完成";
        toast(data.error || "导入失败");
      } else if (data.status === "done") {
        showProgress(data); showReport(data);
      }
    }, function (err) { toast(err.message); });
  }

  $("#import-upload").addEventListener("click", function () {
    var file = $("#import-file").files[0];
    if (!file) { toast("请选择要导入的文件"); return; }
    var form = new FormData(); form.append("file", file);
    var button = this; button.disabled = true;
    call("POST", "/api/imports", form, true).then(function (data) {
      button.disabled = false; job = data;
      $("#report").hidden = true; $("#progress").hidden = true;
      renderMapping();
    }, function (err) { button.disabled = false; toast(err.message); });
  });

  $("#import-dry-run").addEventListener("click", function () {
    $("#report").hidden = true;
    call("POST", "/api/imports/" + job.id + "/dry-run", chosenPlan()).then(function (data) {
      showProgress(data); poll();
    }, function (err) { toast(err.message); });
  });

  $("#import-run").addEventListener("click", function () {
    this.hidden = true;
    var mode = this.dataset.mode || "run"; this.dataset.mode = "run";
    call("POST", "/api/imports/" + job.id + "/" + mode).then(function (data) {
      showProgress(data); poll();
    }, function (err) { toast(err.message); });
  });
}());
