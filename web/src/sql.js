// A light SQL highlighter for the steps: the PostgreSQL dialect of @codemirror/lang-sql
// parses each statement, and @lezer/highlight's class highlighter turns the tokens into
// spans (`tok-keyword`, `tok-string`, ... styled in style.css). No editor per step.

import { PostgreSQL } from '@codemirror/lang-sql';
import { classHighlighter, highlightCode } from '@lezer/highlight';

const parser = PostgreSQL.language.parser;

/** A `<pre><code>` with the SQL highlighted. */
export function highlightedSql(sql) {
  const pre = document.createElement('pre');
  pre.className = 'sql';
  const code = document.createElement('code');
  highlightCode(
    sql,
    parser.parse(sql),
    classHighlighter,
    (text, classes) => {
      if (!classes) {
        code.append(text);
        return;
      }
      const span = document.createElement('span');
      span.className = classes;
      span.textContent = text;
      code.append(span);
    },
    () => code.append('\n'),
  );
  pre.append(code);
  return pre;
}
