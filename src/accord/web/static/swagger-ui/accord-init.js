/* Accord's API documentation: Swagger UI from the files beside this one (swagger-ui-dist,
   served by Accord itself, so the page works offline and under script-src 'self'). */
window.addEventListener("load", function () {
  "use strict";
  var host = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: host.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    validatorUrl: null
  });
});
