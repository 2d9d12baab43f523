"""In a real browser: files chosen on a task page are uploaded with the form, and the case page
shows them in the step that attached them — name, size in words, SHA-256 and a download — in
Russian, Kazakh and English."""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_case_file import shoot, sign_in
from tests.browser.test_case_page import watch_for_refusals
from tests.test_attachments import MODEL, START

CONCLUSION = b"%PDF-1.4\n% conclusion of the special check, items 1-5\n" * 40  # 2,160 bytes
PHOTO = bytes(range(256)) * 48  # 12,288 bytes: 12 KB
SIZES = {"ru": ("2,1 КБ", "12 КБ"), "kk": ("2,1 КБ", "12 КБ"), "en": ("2.1 KB", "12 KB")}
LIMITS = {
    "ru": "До 20 файлов, каждый не более 10 МБ",
    "kk": "20 файлға дейін, әрқайсысы 10 МБ аспауы",
    "en": "Up to 20 files, each at most 10 MB",
}


def test_files_uploaded_on_a_task_page_are_shown_on_the_case_page(page: Page, live) -> None:  # type: ignore[no-untyped-def]
    base, engine = live
    engine.repository.publish(MODEL, now=engine.clock.now())
    errors = watch_for_refusals(page)
    iid = engine.runtime.start("attach_files", START, actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    sign_in(page, base, "tlg.prosecutor")
    page.goto(f"{base}/tasks/{task.task_guid}")
    form = page.locator("#task-form")
    expect(form).to_have_attribute("enctype", "multipart/form-data")
    for locale in ("kk", "en", "ru"):  # the form's file fields and their limits, in words
        page.select_option("select[name=locale]", locale)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        expect(page.locator("#f_materials-format")).to_contain_text(LIMITS[locale])
        shoot(page, f"attachments_task_{locale}")

    # nothing chosen for a required file field: words, nothing stored
    page.click("button[value=complete]")
    expect(page.locator("#f_materials-error")).to_have_text("Приложите хотя бы один файл.")

    page.fill("#f_note", "Заключение по п. 13.5 и материалы")
    page.set_input_files(
        "#f_materials",
        [
            {"name": "заключение.pdf", "mimeType": "application/pdf", "buffer": CONCLUSION},
            {"name": "фото камеры.png", "mimeType": "image/png", "buffer": PHOTO},
        ],
    )
    page.click("button[value=complete]")
    expect(page.locator(".flash.ok")).to_be_visible()

    page.goto(f"{base}/cases/{iid}")
    for locale in ("ru", "kk", "en"):
        page.select_option("select[name=locale]", locale)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        files = page.locator("#case-file tr[data-key=materials] li")
        expect(files).to_have_count(2)
        expect(files.nth(0)).to_contain_text("заключение.pdf")
        expect(files.nth(0)).to_contain_text(SIZES[locale][0])
        expect(files.nth(0)).to_contain_text(hashlib.sha256(CONCLUSION).hexdigest())
        expect(files.nth(1)).to_contain_text("фото камеры.png")
        expect(files.nth(1)).to_contain_text(SIZES[locale][1])
        expect(files.nth(1)).to_contain_text(hashlib.sha256(PHOTO).hexdigest())
        page.locator("#case-file tr[data-key=materials]").scroll_into_view_if_needed()
        shoot(page, f"attachments_case_{locale}")

    with page.expect_download() as download:
        page.click("#case-file tr[data-key=materials] li >> nth=0 >> a")
    assert download.value.suggested_filename == "заключение.pdf"
    assert Path(download.value.path()).read_bytes() == CONCLUSION
    assert errors == []
