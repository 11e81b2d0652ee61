// The schema pairs a visitor can start from. The first one is shown on a first visit.

import blogV1 from '../../examples/blog-v1.graphql';
import blogV2 from '../../examples/blog-v2.graphql';
import saasV1 from './examples/saas-v1.graphql';
import saasV2 from './examples/saas-v2.graphql';
import shopV1 from './examples/shop-v1.graphql';
import shopV2 from './examples/shop-v2.graphql';
// The golden plan case, so the example is the pair the PostgreSQL tests apply.
import bigintV1 from '../../planner/tests/data/plan/primary_key_type_referenced/old.graphql';
import bigintV2 from '../../planner/tests/data/plan/primary_key_type_referenced/new.graphql';

export const EXAMPLES = [
  {
    id: 'blog',
    title: 'Blog: statuses, tags, RLS, a retired table',
    current: blogV1,
    next: blogV2,
  },
  {
    id: 'shop',
    title: 'Shop: tighten a busy table without blocking it',
    current: shopV1,
    next: shopV2,
  },
  {
    id: 'saas',
    title: 'SaaS: tenant isolation with row-level security',
    current: saasV1,
    next: saasV2,
  },
  {
    id: 'bigint',
    title: 'Ids past 2^31: a serial key and its foreign keys become bigint',
    current: bigintV1,
    next: bigintV2,
  },
  {
    id: 'empty',
    title: 'New database: from nothing to the shop schema',
    current: '',
    next: shopV2,
  },
];
