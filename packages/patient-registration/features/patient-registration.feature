Feature: Patient registration: one enterprise identity per person, and visits recorded under it

  A clinic system registers its patients through the interoperability layer and gets the
  enterprise identity (the client registry's golden record) back; its visits are written to the
  shared health record under that identity by the patient-registration mediator.

  Background:
    Given a fresh identifier suffix "RUN" and birth date "BIRTH_DATE"
    And I use basic auth as "${PATIENT_REGISTRATION_CLIENT_ID}" with password "${PATIENT_REGISTRATION_CLIENT_PASSWORD}"

  Scenario: The mediator is registered, heartbeats and has its channel
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "${OPENHIM_ROOT_PASSWORD}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/mediators/urn:mediator:patient-registration"
    Then the response status is 200
    And the response JSON at "name" is "Patient registration"
    And the response JSON at "_lastHeartbeat" matches "^\d{4}-"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/channels"
    Then the response body contains "^/registration/(Patient|visit)$"

  Scenario: A new patient gets an enterprise id; the same person registered at another clinic with a typo gets the same one
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-1-mrn", "value": "A-${RUN}" }],
        "name": [{ "family": "Mwandira", "given": ["Tiyamike"] }], "gender": "female", "birthDate": "${BIRTH_DATE}",
        "telecom": [{ "system": "phone", "value": "+999 7${PHONE}" }] }
      """
    Then the response status is 201
    And the response JSON at "parameter.0.name" is "enterpriseId"
    And the response JSON at "parameter.0.valueIdentifier.system" is "http://instant-openhie.org/fhir/sid/enterprise-id"
    And the response JSON at "parameter.1.valueCode" is "new-golden"
    And I remember the response JSON at "parameter.0.valueIdentifier.value" as "ENTERPRISE_ID"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-2-mrn", "value": "B-${RUN}" }],
        "name": [{ "family": "Mwandria", "given": ["Tiyamike"] }], "gender": "female", "birthDate": "${BIRTH_DATE}",
        "telecom": [{ "system": "phone", "value": "+999 7${PHONE}" }] }
      """
    Then the response status is 201
    And the response JSON at "parameter.0.valueIdentifier.value" is "${ENTERPRISE_ID}"
    And the response JSON at "parameter.1.valueCode" is "auto-linked"
    And the response JSON at "parameter.2.resource.id" is "${ENTERPRISE_ID}"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-1-mrn", "value": "A-${RUN}" }],
        "name": [{ "family": "Mwandira", "given": ["Tiyamike"] }], "gender": "female", "birthDate": "${BIRTH_DATE}" }
      """
    Then the response status is 200
    And the response JSON at "parameter.0.valueIdentifier.value" is "${ENTERPRISE_ID}"
    And the response JSON at "parameter.1.valueCode" is "already-registered"
    And the transaction log soon shows a request to "/registration/Patient" with the orchestrations:
      | register patient in client registry |
      | read golden record                  |
      | read match decision                 |

  Scenario: A probable match gets an enterprise id of its own and lands in the registry's review queue
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-1-mrn", "value": "C-${RUN}" }],
        "name": [{ "family": "Oskarovic", "given": ["Prelena"] }], "gender": "female", "birthDate": "${BIRTH_DATE}" }
      """
    Then the response status is 201
    And I remember the response JSON at "parameter.0.valueIdentifier.value" as "FIRST_ID"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-3-mrn", "value": "D-${RUN}" }],
        "name": [{ "family": "Oskarovic", "given": ["Prelena"] }], "gender": "male", "birthDate": "${BIRTH_DATE}" }
      """
    Then the response status is 201
    And the response JSON at "parameter.1.valueCode" is "new-golden-review"
    And I remember the response JSON at "parameter.3.resource.id" as "SOURCE_ID"
    Given I use basic auth as "${CLIENT_REGISTRY_TEST_CLIENT_ID}" with password "${CLIENT_REGISTRY_TEST_CLIENT_PASSWORD}"
    When I send a GET request to "${BASE_URL}/clientregistry/fhir/Patient/$cr-review?status=open&_count=100"
    Then the response status is 200
    And the response body contains "Patient/${SOURCE_ID}"
    And the response body contains "Patient/${FIRST_ID}"

  Scenario: A visit referring to the clinic's patient is stored in the shared health record under the enterprise id
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-4-mrn", "value": "E-${RUN}" }],
        "name": [{ "family": "Thandeko", "given": ["Vorian"] }], "gender": "male", "birthDate": "${BIRTH_DATE}" }
      """
    Then the response status is 201
    And I remember the response JSON at "parameter.0.valueIdentifier.value" as "ENTERPRISE_ID"
    When I send a POST request to "${BASE_URL}/registration/visit" with the FHIR resource:
      """
      { "resourceType": "Bundle", "type": "transaction", "entry": [
        { "fullUrl": "urn:uuid:6f1c2a8e-3d4b-4c5a-9e7f-000000000001",
          "resource": { "resourceType": "Encounter", "status": "finished", "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
                        "subject": { "reference": "Patient?identifier=http://health.kestria.example/fhir/sid/clinic-4-mrn|E-${RUN}" },
                        "period": { "start": "2024-06-10T09:00:00Z", "end": "2024-06-10T09:20:00Z" } },
          "request": { "method": "POST", "url": "Encounter" } },
        { "resource": { "resourceType": "Observation", "status": "final", "code": { "coding": [{ "system": "http://loinc.org", "code": "29463-7" }], "text": "Body weight" },
                        "subject": { "reference": "Patient?identifier=http://health.kestria.example/fhir/sid/clinic-4-mrn|E-${RUN}" },
                        "encounter": { "reference": "urn:uuid:6f1c2a8e-3d4b-4c5a-9e7f-000000000001" }, "valueQuantity": { "value": 71.5, "unit": "kg" } },
          "request": { "method": "POST", "url": "Observation" } },
        { "resource": { "resourceType": "Observation", "status": "final", "code": { "coding": [{ "system": "http://loinc.org", "code": "8867-4" }], "text": "Heart rate" },
                        "subject": { "type": "Patient", "identifier": { "system": "http://health.kestria.example/fhir/sid/clinic-4-mrn", "value": "E-${RUN}" } },
                        "encounter": { "reference": "urn:uuid:6f1c2a8e-3d4b-4c5a-9e7f-000000000001" }, "valueQuantity": { "value": 68, "unit": "/min" } },
          "request": { "method": "POST", "url": "Observation" } }
      ] }
      """
    Then the response status is 200
    And the response JSON at "type" is "transaction-response"
    And the transaction log soon shows a request to "/registration/visit" with the orchestrations:
      | resolve enterprise identity (PIXm)  |
      | read golden record                  |
      | write visit to shared health record |
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "${CORE_TEST_CLIENT_PASSWORD}"
    When I send a GET request to "${BASE_URL}/fhir/Observation?subject=Patient/${ENTERPRISE_ID}"
    Then the response status is 200
    And the response JSON at "total" is "2"
    When I send a GET request to "${BASE_URL}/fhir/Encounter?subject=Patient/${ENTERPRISE_ID}"
    Then the response JSON at "entry.0.resource.subject.reference" is "Patient/${ENTERPRISE_ID}"
    When I send a GET request to "${BASE_URL}/fhir/Patient/${ENTERPRISE_ID}"
    Then the response status is 200
    And the response JSON at "identifier.0.value" is "${ENTERPRISE_ID}"
    And the response JSON at "name.0.given.0" is "Vorian"

  Scenario: A visit for a patient nobody registered, and a registration without the clinic's identifier, are refused
    When I send a POST request to "${BASE_URL}/registration/visit" with the FHIR resource:
      """
      { "resourceType": "Bundle", "type": "transaction", "entry": [
        { "resource": { "resourceType": "Encounter", "status": "finished", "class": { "code": "AMB" },
                        "subject": { "reference": "Patient?identifier=http://health.kestria.example/fhir/sid/clinic-4-mrn|NOBODY-${RUN}" } },
          "request": { "method": "POST", "url": "Encounter" } } ] }
      """
    Then the response status is 422
    And the response JSON at "resourceType" is "OperationOutcome"
    And the response body contains "not registered"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "name": [{ "family": "Nobody" }] }
      """
    Then the response status is 422

  Scenario: A clinic that speaks FHIR XML registers in XML and is answered in XML
    Given the request header "content-type" is "application/fhir+xml"
    And the request header "accept" is "application/fhir+xml"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the body:
      """
      <Patient xmlns="http://hl7.org/fhir">
        <identifier><system value="http://health.kestria.example/fhir/sid/clinic-3-mrn"/><value value="X-${RUN}"/></identifier>
        <name><family value="Xmlenga"/><given value="Chimwemwe"/></name>
        <gender value="male"/><birthDate value="${BIRTH_DATE}"/>
      </Patient>
      """
    Then the response status is 201
    And the response header "content-type" matches "^application/fhir\+xml"
    And the response body contains "<Parameters xmlns=\"http://hl7.org/fhir\"><parameter><name value=\"enterpriseId\"/>"
    And the response body contains "<valueCode value=\"new-golden\"/>"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the body:
      """
      <Patient xmlns="http://hl7.org/fhir"><nickname value="X"/></Patient>
      """
    Then the response status is 400
    And the response body contains "<OperationOutcome xmlns=\"http://hl7.org/fhir\">"

  Scenario: The demo population of Kestria is in the registry, its planted duplicates linked
    Given I use basic auth as "${CLIENT_REGISTRY_TEST_CLIENT_ID}" with password "${CLIENT_REGISTRY_TEST_CLIENT_PASSWORD}"
    When I send a GET request to "${BASE_URL}/clientregistry/fhir/Patient/kestria-0031"
    Then the response status is 200
    And I remember the response JSON at "link.0.other.reference" as "GOLDEN"
    When I send a GET request to "${BASE_URL}/clientregistry/fhir/Patient/kestria-0038"
    Then the response JSON at "link.0.other.reference" is "${GOLDEN}"
    When I send a GET request to "${BASE_URL}/clientregistry/fhir/Patient/kestria-0047"
    Then the response JSON at "link.0.other.reference" is "${GOLDEN}"

  Scenario: Only clients with the patient-registration role may register
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "${CORE_TEST_CLIENT_PASSWORD}"
    When I send a POST request to "${BASE_URL}/registration/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "http://health.kestria.example/fhir/sid/clinic-1-mrn", "value": "F-${RUN}" }] }
      """
    Then the response status is 401
