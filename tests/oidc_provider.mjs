// A real OpenID provider for the single sign-on tests (tests/test_sso.py): node-oidc-provider
// (npm, pinned in tests/package.json) on 127.0.0.1, with one client (Accord) and two staff:
// rita, whose ID token lists the group accord-reviewers, and nora, whose lists no group.
// Its development sign-in pages take any password.
//
//   node tests/oidc_provider.mjs PORT REDIRECT_URI CLIENT_SECRET
//
// Prints "ready" on standard output once it listens.
import Provider from 'oidc-provider';

const [port, redirectUri, clientSecret] = process.argv.slice(2);

const ACCOUNTS = {
  rita: { name: 'Rita Reviewer', email: 'rita@example.org', groups: ['staff', 'accord-reviewers'] },
  nora: { name: 'Nora Newstarter', email: 'nora@example.org' },
  carl: { name: 'Carl Caseworker', email: 'carl@example.org', groups: ['accord-caseworkers'] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'accord',
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  // The groups go in the ID token itself, as Entra ID and Keycloak can be set to do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ['accord-test-provider-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const known = ACCOUNTS[id] ?? { name: id };
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...known };
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
