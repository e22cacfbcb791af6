// A workload written the way a .NET team writes one: stock Azure.Identity + Azure.Security.KeyVault.Secrets,
// with only the test-only options the README names (trust of the sandbox CA for this client alone,
// DisableInstanceDiscovery, DisableChallengeResourceVerification). Reads the sandbox's .sandbox/env.json
// (path in args[0]) and prints one JSON line: SHA-256 digests of what it read (never the tokens themselves),
// and how Key Vault answered what a reader may not do.
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

var env = JsonNode.Parse(await File.ReadAllTextAsync(args[0]))!;
string Text(string name) => env[name]!.GetValue<string>();

// Trust the sandbox CA for these clients only: the chain must end in caPem, and any other TLS error
// (a wrong host name, say) still fails. Nothing is trusted or disabled process-wide.
var sandboxCa = X509Certificate2.CreateFromPem(Text("caPem"));
var handler = new HttpClientHandler
{
    ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(sandboxCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    },
};
var transport = new HttpClientTransport(handler);

var caller = env["caller"]!;
var credential = new ClientSecretCredential(
    Text("tenantId"),
    caller["clientId"]!.GetValue<string>(),
    caller["clientSecret"]!.GetValue<string>(),
    new ClientSecretCredentialOptions
    {
        AuthorityHost = new Uri(Text("entraAuthorityHost")),
        DisableInstanceDiscovery = true,
        Transport = transport,
    });
var secrets = new SecretClient(
    new Uri(Text("keyVaultUrl")),
    credential,
    new SecretClientOptions { DisableChallengeResourceVerification = true, Transport = transport });

static string Digest(string value) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value))).ToLowerInvariant();

static async Task<JsonObject> Refusal(Func<Task> attempt)
{
    try
    {
        await attempt();
        return new JsonObject { ["status"] = 200 };
    }
    catch (RequestFailedException error)
    {
        return new JsonObject { ["status"] = error.Status, ["code"] = error.ErrorCode, ["message"] = error.Message.Split('\n')[0].Trim() };
    }
}

var read = new JsonObject();
foreach (var profile in env["profiles"]!.AsArray())
{
    var name = profile!["secretName"]!.GetValue<string>();
    KeyVaultSecret secret = await secrets.GetSecretAsync(name);
    read[name] = new JsonObject { ["sha256"] = Digest(secret.Value), ["contentType"] = secret.Properties.ContentType };
}

var refused = new JsonObject
{
    ["certificateSecret"] = await Refusal(() => secrets.GetSecretAsync("virksomhetssertifikat")),
    ["list"] = await Refusal(async () => { await foreach (var _ in secrets.GetPropertiesOfSecretsAsync()) break; }),
    ["write"] = await Refusal(() => secrets.SetSecretAsync(env["profiles"]![0]!["secretName"]!.GetValue<string>(), "garbage")),
};

// A caller token from the same credential, for the broker's own HTTP API (plain HTTP on loopback).
var profileName = env["profiles"]![0]!["name"]!.GetValue<string>();
AccessToken callerToken = await credential.GetTokenAsync(new TokenRequestContext([$"{Text("audienceUri")}/.default"]), default);
using var http = new HttpClient();
using var request = new HttpRequestMessage(HttpMethod.Get, $"{Text("brokerUrl")}/api/token/{profileName}");
request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", callerToken.Token);
using var response = await http.SendAsync(request);
var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
var broker = new JsonObject { ["status"] = (int)response.StatusCode, ["profile"] = body["profile"]?.GetValue<string>(), ["sha256"] = body["access_token"] is { } token ? Digest(token.GetValue<string>()) : null };

Console.WriteLine(new JsonObject { ["read"] = read, ["refused"] = refused, ["broker"] = broker }.ToJsonString());
