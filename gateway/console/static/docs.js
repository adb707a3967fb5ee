// The API explorer: Swagger UI on /openapi.json; "Try it out" sends the console tab's key unless one was typed
// into Swagger UI's Authorize dialog.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  tryItOutEnabled: false,
  requestInterceptor: (request) => {
    const key = sessionStorage.getItem("taskgate.apiKey");
    if (key && !request.headers.Authorization) request.headers.Authorization = `Bearer ${key}`;
    return request;
  },
});
