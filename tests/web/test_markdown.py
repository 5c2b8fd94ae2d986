"""The page's Markdown renderer (``static/markdown.js``) on what models write and what they should not:
it builds elements, puts text in as text, and links only to http(s) and mailto."""

RENDER = """async (text) => {
    const { renderMarkdown } = await import('/static/markdown.js');
    const box = document.createElement('div');
    box.append(renderMarkdown(text));
    return box.innerHTML;
}"""
CASES = {
    "# Title\nplain *em* **strong** `co<de>` ~~gone~~": (
        "<h3>Title</h3><p>plain <em>em</em> <strong>strong</strong> <code>co&lt;de&gt;</code> <del>gone</del></p>"
    ),
    "line one\nline two": "<p>line one<br>line two</p>",
    "- a\n  - a.1\n  - a.2\n- b\n\n3. three\n4. four": (
        '<ul><li>a<ul><li>a.1</li><li>a.2</li></ul></li><li>b</li></ul><ol start="3"><li>three</li><li>four</li></ol>'
    ),
    "- [ ] to do\n- [x] done": "<ul><li>☐ to do</li><li>☑ done</li></ul>",
    "| a | b \\| c |\n|---|--:|\n| 1 | 2 |": (
        '<div class="table-wrap"><table><thead><tr><th scope="col">a</th><th class="align-right" scope="col">'
        'b | c</th></tr></thead><tbody><tr><td>1</td><td class="align-right">2</td></tr></tbody></table></div>'
    ),
    "```\n<b>not bold</b>\n```": "<pre><code>&lt;b&gt;not bold&lt;/b&gt;</code></pre>",
    "> quoted **text**": "<blockquote><p>quoted <strong>text</strong></p></blockquote>",
    "snake_case_name stays": "<p>snake_case_name stays</p>",
    "&lt;escaped&gt; &amp;lt; \\*stars\\*": "<p>&lt;escaped&gt; &amp;lt; *stars*</p>",
    "[js](javascript:alert(1)) [data](data:text/html,x) [rel](other.md)": "<p>js data rel</p>",
    "<https://example.org/a> and [m](mailto:a@example.org)": (
        '<p><a href="https://example.org/a" target="_blank" rel="noopener noreferrer nofollow">https://example.org/a</a>'
        ' and <a href="mailto:a@example.org" target="_blank" rel="noopener noreferrer nofollow">m</a></p>'
    ),
    '<img src=x onerror="alert(1)"><script>alert(2)</script>': (
        '<p>&lt;img src=x onerror="alert(1)"&gt;&lt;script&gt;alert(2)&lt;/script&gt;</p>'
    ),
    "---\n\n***": "<hr><hr>",
}


def test_markdown_becomes_elements_and_text_never_html(page):
    page.wait_for_selector("#system option", state="attached")
    got = {text: page.evaluate(RENDER, text) for text in CASES}
    assert got == CASES
