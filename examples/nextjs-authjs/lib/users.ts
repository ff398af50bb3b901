/**
 * The demo's two lawyers, in two firms (tenants). A real app checks a password hash in its
 * database; the fixed passwords are for trying the example only.
 */
export interface DemoUser {
  id: string;
  name: string;
  email: string;
  password: string;
  tenantId: string;
}

export const USERS: readonly DemoUser[] = [
  { id: "alice", name: "Me Alice Martin", email: "alice@firm-a.fr", password: "alice-demo", tenantId: "firm-a" },
  { id: "bob", name: "Me Bob Durand", email: "bob@firm-b.fr", password: "bob-demo", tenantId: "firm-b" },
];

/** The user with this e-mail and password, or null. */
export function checkCredentials(email: string, password: string): DemoUser | null {
  return USERS.find((user) => user.email === email.trim().toLowerCase() && user.password === password) ?? null;
}
