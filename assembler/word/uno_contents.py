"""Fill in each document's contents page with LibreOffice, then save it as PDF (and as .docx).

Run by ``assembler.word.pdf`` under the system Python, the one with
LibreOffice's ``uno`` bridge (Debian's python3-uno), never imported by s75:

    /usr/bin/python3 uno_contents.py SOFFICE PROFILE_URL (pdf|pdf+pages) OUTDIR DOCX...

A plain ``soffice --convert-to pdf`` lays the pages out but leaves the table
of contents as Word's field result, with no page numbers. Through UNO the
document is loaded hidden, each of its indexes is updated (LibreOffice pages
the document to do so), and the result is stored as PDF. With ``pdf+pages``
the page number of each contents entry is printed as a line
"PAGES<tab>path<tab>5 8 9 ...", for s75 to write into its own .docx. One
LibreOffice process serves the whole batch. A line "FAILED path: reason" is
printed for each document that could not be done; the exit code is 0 only
if every document was.
"""

import os
import re
import subprocess
import sys
import time
import uuid

import uno
from com.sun.star.beans import PropertyValue

CONNECT_SECONDS = 60
_UNTITLED = re.compile(r"\s*(?:\d+(?:\.\d+)*\.?)?\s*")  # an entry's text before its page: at most a number


def _props(**values):
    out = []
    for name, value in values.items():
        prop = PropertyValue()
        prop.Name, prop.Value = name, value
        out.append(prop)
    return tuple(out)


def _connect(pipe):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        except Exception:  # NoConnectException until soffice is listening
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _drop_untitled_entries(index):
    """Remove contents entries that have a page number but no title.

    In a redline the heading of a clause or schedule removed whole is
    tracked as deleted, and LibreOffice builds its entry from the heading
    without the deleted words: a line holding only a number ("6.") and a
    page. Dropping it leaves the contents as they read once the changes are
    accepted.
    """
    protected = index.IsProtected
    index.IsProtected = False
    try:
        paragraphs = index.getAnchor().createEnumeration()
        untitled = []
        while paragraphs.hasMoreElements():
            paragraph = paragraphs.nextElement()
            text = paragraph.getString()
            if "\t" in text and _UNTITLED.fullmatch(text.rsplit("\t", 1)[0]):
                untitled.append(paragraph)
        for paragraph in untitled:
            paragraph.dispose()
    finally:
        index.IsProtected = protected


def _convert(desktop, docx, outdir, pages):
    url = uno.systemPathToFileUrl(os.path.abspath(docx))
    document = desktop.loadComponentFromURL(url, "_blank", 0, _props(Hidden=True, ReadOnly=True))
    if document is None:
        raise RuntimeError("LibreOffice could not open it")
    try:
        indexes = document.getDocumentIndexes()
        contents = []
        for i in range(indexes.getCount()):
            index = indexes.getByIndex(i)
            index.update()
            if index.supportsService("com.sun.star.text.ContentIndex"):
                _drop_untitled_entries(index)
            if not contents and index.supportsService("com.sun.star.text.ContentIndex"):
                lines = [line for line in index.getAnchor().getString().split("\n") if line.strip()]
                contents = [line.rsplit("\t", 1)[-1].strip() if "\t" in line else "" for line in lines]
        stem = os.path.splitext(os.path.basename(docx))[0]
        pdf = uno.systemPathToFileUrl(os.path.abspath(os.path.join(outdir, stem + ".pdf")))
        document.storeToURL(pdf, _props(FilterName="writer_pdf_Export", Overwrite=True))
        if pages:
            print(f"PAGES\t{docx}\t{' '.join(page or '-' for page in contents)}", flush=True)
    finally:
        document.close(True)


def main(argv):
    soffice, profile, mode, outdir, *documents = argv
    pipe = f"s75-{uuid.uuid4().hex}"
    office = subprocess.Popen(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--invisible", "--norestore", "--nologo",
         "--nodefault", "--nolockcheck", f"--accept=pipe,name={pipe};urp;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    failed = 0
    try:
        desktop = _connect(pipe)
        for docx in documents:
            try:
                _convert(desktop, docx, outdir, mode == "pdf+pages")
            except Exception as exc:  # report it and go on with the others
                failed += 1
                print(f"FAILED {docx}: {' '.join(str(exc).split()) or type(exc).__name__}", flush=True)
        try:
            desktop.terminate()
        except Exception:  # the bridge drops as soffice exits
            pass
    finally:
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()
            office.wait()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
