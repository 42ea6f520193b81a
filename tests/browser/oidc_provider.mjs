// A real OpenID provider for Switchboard's login tests: the certified `oidc-provider` package, with
// its development login and consent pages (any password is accepted; the login name is the account).
// Usage: node oidc_provider.mjs PORT REDIRECT_URI CLIENT_SECRET KEY_ID
// Accounts: `kari` is Switchboard user 1004 with the provider's app role `Switchboard.Reception`;
// `ola` is 1005 with `staff`.
// Prints "ready" when listening. ID tokens are RS256, keys generated at start.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, redirectUri, clientSecret, keyId] = process.argv.slice(2);
const accounts = {
  kari: { preferred_username: '1004', name: 'Kari Nordmann', roles: ['Switchboard.Reception'] },
  ola: { preferred_username: '1005', name: 'Ola Nordmann', roles: ['staff'] },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: keyId, use: 'sig', alg: 'RS256' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'switchboard',
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'roles'] },
  // Scope claims in the ID token itself (as Entra ID puts preferred_username and roles there).
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, ...(accounts[id] ?? { preferred_username: id }) }),
  }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['switchboard-test-cookie-key'] },
});
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
