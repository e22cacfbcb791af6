// node-forge's own modules, imported one by one (keystore-pkcs12.ts); @types/node-forge types only
// the package's entry. lib/forge.js is the shared namespace object the others register on.
declare module "node-forge/lib/forge.js" {
  const forge: unknown;
  export default forge;
}
declare module "node-forge/lib/asn1.js";
declare module "node-forge/lib/pbe.js";
