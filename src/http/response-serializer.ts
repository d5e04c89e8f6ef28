import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

const fastSerializerFactory = SerializerSelector()

/**
 * Fastify's own serializer (fast-json-stringify) for success bodies, which their schemas
 * describe exactly; JSON.stringify for error bodies. Error schemas are there for the
 * document: the contract's bytes (a 422's items in the order they were built, with any key
 * they carry) must not depend on a schema's property order.
 */
export const contractSerializer: typeof fastSerializerFactory = (externalSchemas, options) => {
  const compile = fastSerializerFactory(externalSchemas, options)
  return (route) => (String(route.httpStatus).startsWith('2') ? compile(route) : JSON.stringify)
}
