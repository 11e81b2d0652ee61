// Uses the types generated for planner/tests/data/sdl/ok/all_types.graphql the way an
// application would; each `@ts-expect-error` line must be an error, so `tsc` fails when a
// type is looser than it should be.
import type { InsertRules, InsertRulesInsert, InsertRulesUpdate, Mood, Sample, SampleInsert } from '../../../planner/tests/data/sdl/ok/all_types';
import type { InsertRules as InsertRulesText } from '../../../planner/tests/data/sdl/ok/all_types.dates-string';

// Only the columns without a default that are NOT NULL are required.
export const minimal: InsertRulesInsert = { required: 'x' };
// @ts-expect-error `required` is NOT NULL without a default.
export const missing: InsertRulesInsert = { optional: 'x' };
export const nothing: InsertRulesUpdate = {};
// @ts-expect-error NOT NULL columns take no null.
export const nulled: InsertRulesUpdate = { required: null };
// @ts-expect-error an enum is a union of its labels.
export const badMood: Mood = 'ANGRY';
export const mood: Mood = 'HAPPY';

export function read(row: InsertRules, sample: Sample, text: InsertRulesText): string {
  const at: Date = row.created_at;
  const atText: string = text.created_at;
  // @ts-expect-error bigint is a string.
  const big: number | null = sample.int8_value;
  // @ts-expect-error a nullable column may be null.
  const int: number = sample.int4_value;
  // @ts-expect-error an array of enums comes back as text.
  const moods: Mood[] | null = sample.mood_array;
  const spaced: string | null = row['Spaced Name'];
  return [at, atText, big, int, moods, spaced, row.tags.join(',')].join();
}

export const sample: SampleInsert = { id: 1, int8_value: '1', numeric_value: '1.5', json_value: { a: [1, null] }, mood_array: ['SAD'] };
// bigint and numeric parameters may also be numbers (pg sends their text).
export const numbers: SampleInsert = { id: 2, int8_value: 2, numeric_value: 2.5 };
// @ts-expect-error an int4 parameter is a number, not text.
export const textInt: SampleInsert = { id: 3, int4_value: '3' };

// Generated columns (generated.graphql) are read, never written.
import type { OrderLine, OrderLineInsert, OrderLineUpdate } from '../../../planner/tests/data/sdl/ok/generated';
export const line: OrderLineInsert = { id: 'x', unit_price: '1.50', quantity: 2 };
// @ts-expect-error PostgreSQL computes `total`.
export const lineWithTotal: OrderLineInsert = { id: 'x', unit_price: '1.50', quantity: 2, total: '3.00' };
// @ts-expect-error nor can an update set it.
export const setTotal: OrderLineUpdate = { total: '3.00' };
export const total = (row: OrderLine): string => row.total;
