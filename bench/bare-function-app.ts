/**
 * The cold-start baseline: the smallest Azure Functions app there is, one HTTP function with
 * @azure/functions and nothing else.
 */
import functions, { type HttpResponseInit } from "@azure/functions";

functions.app.http("hello", {
  route: "hello",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: async (): Promise<HttpResponseInit> => ({ status: 200, jsonBody: { hello: "world" } }),
});
