// What the planner worker does for each message (worker.js), apart from the messaging: the
// benchmark (web/bench/) times these same functions.

const CURRENT = 'current.graphql';
const NEXT = 'next.graphql';

/** The operations on an initialised planner module (`pkg/wesley_planner.js`). */
export function planOps(wesley) {
  return {
    // While someone types: the plan's steps, diagnostics and verdict (`wesley plan`'s with
    // its defaults), without the plan file (its schemas alone are most of its bytes).
    plan: ({ current, next }) => {
      const started = performance.now();
      const result = wesley.preview(CURRENT, current, NEXT, next);
      result.millis = performance.now() - started;
      return result;
    },
    // For an export: the plan file, exactly `wesley plan --format json`, and why `wesley
    // apply` would refuse it (an empty list when it may be applied).
    file: ({ current, next }) => {
      const { json } = wesley.plan(CURRENT, current, NEXT, next);
      return { json, refused: json === null ? [] : wesley.validatePlan(json) };
    },
    sql: ({ json }) => wesley.renderSql(json),
    markdown: ({ json }) => wesley.renderMarkdown(json, [], []),
    typescript: ({ next, dates }) => wesley.generateTypescript(NEXT, next, dates),
  };
}
