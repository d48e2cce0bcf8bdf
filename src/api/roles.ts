/** Who may do what: one table, consulted by every route (docs/architecture.md: admin everything; analyst
 * read + feedback). */
import type { Role } from '../store/types.js';

export type Action =
  | 'messages:read'
  | 'quarantine:read'
  | 'quarantine:release'
  | 'quarantine:delete'
  | 'feedback:write'
  | 'models:read'
  | 'models:activate'
  | 'keys:read'
  | 'keys:write'
  | 'scan'
  | 'audit:read'
  | 'lists:read'
  | 'lists:write'
  | 'digest:read'
  | 'digest:write';

export const PERMISSIONS: Readonly<Record<Action, readonly Role[]>> = {
  'messages:read': ['admin', 'analyst'],
  'quarantine:read': ['admin', 'analyst'],
  'quarantine:release': ['admin'],
  'quarantine:delete': ['admin'],
  'feedback:write': ['admin', 'analyst'],
  'models:read': ['admin', 'analyst'],
  'models:activate': ['admin'],
  'keys:read': ['admin'],
  'keys:write': ['admin'],
  scan: ['admin', 'analyst'],
  'audit:read': ['admin'],
  'lists:read': ['admin', 'analyst'],
  'lists:write': ['admin'],
  'digest:read': ['admin', 'analyst'],
  'digest:write': ['admin'],
};

export function mayDo(role: Role, action: Action): boolean {
  return PERMISSIONS[action].includes(role);
}
